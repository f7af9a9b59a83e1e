//! Op encoding: canonical JSON and serde round trips; decoding arbitrary text never panics.

use std::collections::BTreeMap;

use chain::path::PathPattern;
use chain::{FunctionConfig, Op, OwnerConfig, OwnerPermissions, Path, Rule, Value};
use proptest::prelude::*;

fn segment() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_:@-][a-zA-Z0-9_.:@-]{0,7}"
}

fn data_path() -> impl Strategy<Value = Path> {
    prop::collection::vec(segment(), 0..5).prop_map(|s| Path::from_segments(s).unwrap())
}

fn pattern() -> impl Strategy<Value = PathPattern> {
    prop::collection::vec(prop_oneof![segment(), "\\$[a-z]{1,4}"], 0..5)
        .prop_map(|s| PathPattern::parse(&format!("/{}", s.join("/"))).unwrap())
}

fn value(int: BoxedStrategy<i128>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        int.prop_map(Value::Int),
        "\\PC{0,12}".prop_map(Value::Str),
        "[\"\\\\\\n\\t\\u{0}-\\u{1f}é😀]{0,6}".prop_map(Value::Str),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop::collection::btree_map(segment(), inner, 0..4).prop_map(Value::Object)
    })
}

fn owner() -> impl Strategy<Value = OwnerConfig> {
    let perms =
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, b, c, d)| {
            OwnerPermissions {
                branch_owner: a,
                write_function: b,
                write_owner: c,
                write_rule: d,
            }
        });
    prop::collection::btree_map(prop_oneof![segment(), Just("*".to_owned())], perms, 0..4)
        .prop_map(|owners: BTreeMap<_, _>| OwnerConfig { owners })
}

fn simple_op(int: BoxedStrategy<i128>) -> impl Strategy<Value = Op> {
    let rules = [
        "true",
        "auth.addr == 'x' && newData > 0",
        "data == null || getValue('/a/b') != \"q\\n\"",
    ];
    prop_oneof![
        (data_path(), value(int.clone())).prop_map(|(path, value)| Op::SetValue { path, value }),
        (data_path(), int.clone().prop_map(i128::abs))
            .prop_map(|(path, delta)| Op::IncValue { path, delta }),
        (data_path(), int.prop_map(i128::abs))
            .prop_map(|(path, delta)| Op::DecValue { path, delta }),
        (
            pattern(),
            prop::option::of(prop::sample::select(rules.to_vec()))
        )
            .prop_map(|(path, r)| Op::SetRule {
                path,
                rule: r.map(|s| Rule::parse(s).unwrap()),
            }),
        (pattern(), prop::option::of("_[a-zA-Z0-9_]{1,10}")).prop_map(|(path, id)| {
            Op::SetFunction {
                path,
                function: id.map(|id| FunctionConfig::new(&id).unwrap()),
            }
        }),
        (pattern(), prop::option::of(owner()))
            .prop_map(|(path, owner)| Op::SetOwner { path, owner }),
    ]
}

fn any_op(int: BoxedStrategy<i128>) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => simple_op(int.clone()),
        1 => prop::collection::vec(simple_op(int), 1..5).prop_map(Op::Set),
    ]
}

fn wide_int() -> BoxedStrategy<i128> {
    prop_oneof![
        any::<i128>().prop_filter("i128::MIN has no abs", |i| *i != i128::MIN),
        -5i128..5
    ]
    .boxed()
}

fn int64() -> BoxedStrategy<i128> {
    any::<i64>()
        .prop_map(i128::from)
        .prop_filter("no MIN", |i| *i != i128::from(i64::MIN))
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn canonical_json_round_trips(op in any_op(wide_int())) {
        let text = op.to_canonical_json();
        let decoded = Op::from_json_text(&text).unwrap();
        prop_assert_eq!(&decoded, &op);
        prop_assert_eq!(decoded.to_canonical_json(), text);
    }

    #[test]
    fn serde_json_round_trips(op in any_op(int64())) {
        let text = serde_json::to_string(&op).unwrap();
        let decoded: Op = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(&decoded, &op);
        // serde_json writes maps in our sorted order without whitespace: the canonical form.
        prop_assert_eq!(text, op.to_canonical_json());
    }

    #[test]
    fn decoding_arbitrary_text_never_panics(text in "\\PC{0,120}") {
        let _ = Op::from_json_text(&text);
    }

    #[test]
    fn decoding_mutated_ops_never_panics(op in any_op(wide_int()), cut in any::<prop::sample::Index>(), junk in "\\PC{0,3}") {
        let text = op.to_canonical_json();
        let at = cut.index(text.len() + 1);
        if text.is_char_boundary(at) {
            let _ = Op::from_json_text(&format!("{}{}{}", &text[..at], junk, &text[at..]));
        }
    }
}

#[test]
fn canonical_form_is_the_documented_one() {
    let op = Op::from_json_text(
        r#"{ "value": {"b": 1, "a": 340282366920938463463374607431768211455}, "ref": "/x", "type": "SET_VALUE" }"#,
    );
    // 2^128 - 1 does not fit i128.
    assert!(op.unwrap_err().to_string().contains("128-bit range"));
    let op = Op::from_json_text(r#"{ "value": {"b": 1, "a": -170141183460469231731687303715884105728}, "ref": "/x", "type": "SET_VALUE" }"#).unwrap();
    assert_eq!(
        op.to_canonical_json(),
        r#"{"ref":"/x","type":"SET_VALUE","value":{"a":-170141183460469231731687303715884105728,"b":1}}"#
    );
}
