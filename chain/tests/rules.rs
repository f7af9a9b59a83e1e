//! The rule language: parsing, column-accurate errors, evaluation, and totality.

use chain::Value;
use chain::path::{Bindings, Path};
use chain::rules::{Auth, EvalEnv, EvalError, Rule, StateView, evaluate};
use proptest::prelude::*;

struct FixedState(Value);

impl StateView for FixedState {
    fn get_value_bounded(&self, path: &Path, max_nodes: usize) -> Option<Value> {
        let v = path
            .segments()
            .iter()
            .fold(self.0.clone(), |v, s| v.child(s).clone());
        (v.node_count() <= max_nodes).then_some(v)
    }
}

fn eval_with(src: &str, data: Value, new_data: Value) -> Result<bool, EvalError> {
    let rule = Rule::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let state =
        FixedState(Value::from_json(r#"{"admins":{"alice":true},"limit":{"x":100}}"#).unwrap());
    let vars = Bindings::from([
        ("user".to_owned(), "alice".to_owned()),
        ("app".to_owned(), "x".to_owned()),
    ]);
    let auth = Auth {
        addr: "alice".to_owned(),
        fid: None,
    };
    evaluate(
        &rule,
        &EvalEnv {
            auth: &auth,
            vars: &vars,
            data: &data,
            new_data: &new_data,
            current_time: 5000,
            block_number: 12,
            state: &state,
        },
    )
}

fn eval(src: &str) -> Result<bool, EvalError> {
    eval_with(
        src,
        Value::Null,
        Value::from_json(r#"{"amount":40,"to":"bob"}"#).unwrap(),
    )
}

#[test]
fn evaluates_the_documented_semantics() {
    let allowed = [
        "auth.addr == $user",
        "auth.fid == null",
        "newData.amount == 40 && newData.to == 'bob'",
        "newData['amount'] + 2 * 5 == 50",
        "getValue('/admins/' + auth.addr) == true",
        "newData.amount <= getValue('/limit/' + $app)",
        "data == null && !(newData == null)",
        "currentTime == 5000 && blockNumber > 11",
        "'a' + 1 == \"a1\" && 'abc' < 'abd'",
        "-7 / 2 == -3 && -7 % 2 == -1",
        "util.isString($user) && util.isInt(newData.amount) && util.isObject(newData)",
        "util.length('héllo') == 5 && util.length(newData) == 2",
        "false || true && true",
        "data.missing.deeper == null",
        "'it\\'s' == \"it's\"",
    ];
    for src in allowed {
        assert_eq!(eval(src), Ok(true), "{src}");
    }
    let denied = [
        "auth.addr == 'mallory'",
        "newData.amount > 40",
        "getValue('/admins/bob') == true",
    ];
    for src in denied {
        assert_eq!(eval(src), Ok(false), "{src}");
    }
}

#[test]
fn type_errors_overflow_and_division_deny_with_a_reason() {
    assert_eq!(eval("1 / 0 == 0"), Err(EvalError::DivisionByZero));
    assert_eq!(eval("1 % 0 == 0"), Err(EvalError::DivisionByZero));
    assert!(matches!(
        eval("170141183460469231731687303715884105727 + 1 > 0"),
        Err(EvalError::Overflow(_))
    ));
    assert!(matches!(eval("1 && true"), Err(EvalError::Type { .. })));
    assert!(matches!(eval("'a' < 1"), Err(EvalError::Type { .. })));
    assert!(matches!(
        eval("auth.addr.x == 1"),
        Err(EvalError::Type { .. })
    ));
    assert!(matches!(
        eval("newData.amount"),
        Err(EvalError::NotBoolean("integer"))
    ));
    assert!(matches!(
        eval("$nobody == 'x'"),
        Err(EvalError::UnboundVariable(_))
    ));
    assert!(matches!(
        eval("getValue('no-slash') == null"),
        Err(EvalError::BadPath(_))
    ));
    let many = vec!["getValue('/limit') == null"; 17].join(" || ");
    assert!(matches!(eval(&many), Err(EvalError::Budget(_))));
    // Short-circuit: the right side is never evaluated.
    assert_eq!(eval("false && 1 / 0 == 0"), Ok(false));
}

#[test]
fn parse_errors_point_at_the_column() {
    let cases = [
        ("(auth.addr == $x", 17, "expected ')'"),
        ("auth.addr = 'a'", 11, "'=='"),
        ("newData.amount > ", 18, "unexpected end"),
        ("getValue('/a' + $x", 19, "expected ')'"),
        ("data == 'unterminated", 9, "unterminated string"),
        ("foo == 1", 1, "unknown identifier 'foo'"),
        ("util.bogus(1)", 6, "unknown util helper"),
        ("1 2", 3, "expected an operator"),
        (
            "data == 99999999999999999999999999999999999999999",
            9,
            "bad integer",
        ),
        ("data # 1", 6, "unexpected character"),
        ("$ == 1", 1, "variable name"),
    ];
    for (src, column, needle) in cases {
        let err = Rule::parse(src).unwrap_err();
        assert_eq!(err.column, column, "{src}: {err}");
        assert!(err.to_string().contains(needle), "{src}: {err}");
        assert!(
            err.to_string()
                .starts_with(&format!("rule parse error at column {column}: "))
        );
    }
}

#[test]
fn size_limits_are_parse_errors() {
    assert!(
        Rule::parse(&"x".repeat(5000))
            .unwrap_err()
            .to_string()
            .contains("bytes")
    );
    let deep = format!("{}true{}", "(".repeat(100), ")".repeat(100));
    assert!(
        Rule::parse(&deep)
            .unwrap_err()
            .to_string()
            .contains("nested too deeply")
    );
    let wide = vec!["1"; 600].join(" + ");
    assert!(
        Rule::parse(&wide)
            .unwrap_err()
            .to_string()
            .contains("too large")
    );
    let bangs = format!("{}true", "!".repeat(200));
    assert!(Rule::parse(&bangs).is_err());
}

#[test]
fn string_growth_is_bounded() {
    let long = Value::Str("a".repeat(40 * 1024));
    assert_eq!(
        eval_with("newData + 'b' != ''", Value::Null, long.clone()),
        Ok(true)
    );
    assert_eq!(
        eval_with("newData + newData != ''", Value::Null, long),
        Err(EvalError::StringTooLong)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_text_never_panics(src in "\\PC{0,80}") {
        if let Ok(rule) = Rule::parse(&src) {
            let _ = eval_with(rule.source(), Value::Int(3), Value::Null);
        }
    }

    #[test]
    fn random_token_soup_never_panics(tokens in prop::collection::vec(prop::sample::select(vec![
        "(", ")", "[", "]", ".", "!", "-", "+", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=",
        "&&", "||", "0", "1", "170141183460469231731687303715884105727", "'s'", "\"t\"", "true",
        "false", "null", "auth", "addr", "data", "newData", "amount", "$user", "$x", "getValue",
        "'/admins'", "util", "isInt", "length", "currentTime", "blockNumber",
    ]), 0..40)) {
        let src = tokens.join(" ");
        if let Ok(rule) = Rule::parse(&src) {
            let _ = eval_with(rule.source(), Value::Int(-5), Value::from_json(r#"{"amount":1}"#).unwrap());
        }
    }
}
