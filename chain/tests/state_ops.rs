//! Applying ops: rules, owners, atomicity, and rejection of bad input.

mod common;

use chain::path::PathPattern;
use chain::{
    ApplyError, Builtins, Op, OpError, OwnerConfig, OwnerPermissions, Rule, StateTree, Value,
};
use common::{ROOT, ctx, genesis, op, path};

fn apply(state: &mut StateTree, addr: &str, json: &str) -> Result<(), ApplyError> {
    state.apply(&op(json), &ctx(addr), &Builtins::new())
}

/// A state where `/apps/$app/users/$user` is writable by `$user` only, with an admin override
/// read through getValue, and `/apps/$app/config` is writable by the app's admin.
fn app_state() -> StateTree {
    let mut state = genesis(&[]);
    apply(
        &mut state,
        ROOT,
        r#"{"type":"SET","op_list":[
            {"type":"SET_RULE","ref":"/apps/$app/users/$user",
             "value":"auth.addr == $user || auth.addr == getValue('/apps/' + $app + '/admin')"},
            {"type":"SET_RULE","ref":"/apps/$app/admin","value":"data == null"},
            {"type":"SET_RULE","ref":"/apps/$app/counter","value":"util.isInt(newData) && newData <= 10"}
        ]}"#,
    )
    .unwrap();
    state
}

#[test]
fn no_rule_means_deny() {
    let mut state = genesis(&[]);
    let err = apply(
        &mut state,
        ROOT,
        r#"{"type":"SET_VALUE","ref":"/nowhere","value":1}"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ApplyError::NoRule {
            path: "/nowhere".to_owned()
        }
    );
    assert_eq!(state.get_value(&path("/nowhere")), Value::Null);
}

#[test]
fn rules_bind_variables_and_read_state() {
    let mut state = app_state();
    apply(
        &mut state,
        "alice",
        r#"{"type":"SET_VALUE","ref":"/apps/chat/users/alice","value":{"name":"A"}}"#,
    )
    .unwrap();
    let err = apply(
        &mut state,
        "mallory",
        r#"{"type":"SET_VALUE","ref":"/apps/chat/users/alice","value":1}"#,
    )
    .unwrap_err();
    match err {
        ApplyError::Denied {
            path,
            pattern,
            reason,
        } => {
            assert_eq!(path, "/apps/chat/users/alice");
            assert_eq!(pattern, "/apps/$app/users/$user");
            assert!(reason.contains("false"), "{reason}");
        }
        other => panic!("expected a rule denial, got {other}"),
    }
    // Once mallory is the chat admin, getValue lets her write anyone's entry.
    apply(
        &mut state,
        "mallory",
        r#"{"type":"SET_VALUE","ref":"/apps/chat/admin","value":"mallory"}"#,
    )
    .unwrap();
    apply(
        &mut state,
        "mallory",
        r#"{"type":"SET_VALUE","ref":"/apps/chat/users/alice","value":2}"#,
    )
    .unwrap();
    assert_eq!(
        state.get_value(&path("/apps/chat/users/alice")),
        Value::Int(2)
    );
    // ... but not in another app, where she is not admin.
    assert!(
        apply(
            &mut state,
            "mallory",
            r#"{"type":"SET_VALUE","ref":"/apps/mail/users/alice","value":2}"#
        )
        .is_err()
    );
}

#[test]
fn closer_rules_guard_their_part_of_an_object_write() {
    let mut state = app_state();
    apply(
        &mut state,
        ROOT,
        r#"{"type":"SET_RULE","ref":"/apps/$app","value":"true"}"#,
    )
    .unwrap();
    // The permissive rule at /apps/$app allows the object, but the nested users/bob entry is
    // governed by the closer users rule, which denies alice.
    let err = apply(
        &mut state,
        "alice",
        r#"{"type":"SET_VALUE","ref":"/apps/chat","value":{"users":{"bob":1},"x":1}}"#,
    )
    .unwrap_err();
    assert!(
        matches!(&err, ApplyError::Denied { path, .. } if path == "/apps/chat/users/bob"),
        "{err}"
    );
    apply(
        &mut state,
        "alice",
        r#"{"type":"SET_VALUE","ref":"/apps/chat","value":{"users":{"alice":1},"x":1}}"#,
    )
    .unwrap();
    assert_eq!(state.get_value(&path("/apps/chat/x")), Value::Int(1));
}

#[test]
fn most_specific_pattern_wins() {
    let mut state = app_state();
    apply(
        &mut state,
        ROOT,
        r#"{"type":"SET_RULE","ref":"/apps/chat/users/$user","value":"false"}"#,
    )
    .unwrap();
    // Literal `chat` beats `$app` at the same depth.
    assert!(
        apply(
            &mut state,
            "alice",
            r#"{"type":"SET_VALUE","ref":"/apps/chat/users/alice","value":1}"#
        )
        .is_err()
    );
    apply(
        &mut state,
        "alice",
        r#"{"type":"SET_VALUE","ref":"/apps/mail/users/alice","value":1}"#,
    )
    .unwrap();
    // Two different wildcards at one level are refused.
    let err = apply(
        &mut state,
        ROOT,
        r#"{"type":"SET_RULE","ref":"/apps/$other","value":"true"}"#,
    )
    .unwrap_err();
    assert!(matches!(err, ApplyError::WildcardConflict { .. }), "{err}");
}

#[test]
fn inc_and_dec() {
    let mut state = app_state();
    apply(
        &mut state,
        "x",
        r#"{"type":"INC_VALUE","ref":"/apps/a/counter","value":7}"#,
    )
    .unwrap();
    apply(
        &mut state,
        "x",
        r#"{"type":"DEC_VALUE","ref":"/apps/a/counter","value":2}"#,
    )
    .unwrap();
    assert_eq!(state.get_value(&path("/apps/a/counter")), Value::Int(5));
    let root = state.root_hash();
    let err = apply(
        &mut state,
        "x",
        r#"{"type":"DEC_VALUE","ref":"/apps/a/counter","value":6}"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ApplyError::BelowZero {
            path: "/apps/a/counter".to_owned(),
            current: 5,
            delta: 6
        }
    );
    // The rule sees the incremented value as newData: 5 + 6 > 10.
    assert!(matches!(
        apply(
            &mut state,
            "x",
            r#"{"type":"INC_VALUE","ref":"/apps/a/counter","value":6}"#
        ),
        Err(ApplyError::Denied { .. })
    ));
    assert_eq!(state.root_hash(), root);
    let json = r#"{"type":"INC_VALUE","ref":"/apps/a/counter","value":-1}"#;
    assert_eq!(Op::from_json_text(json), Err(OpError::NegativeDelta(-1)));
    let negative = Op::IncValue {
        path: path("/apps/a/counter"),
        delta: -1,
    };
    let err = state
        .apply(&negative, &ctx("x"), &Builtins::new())
        .unwrap_err();
    assert_eq!(err, ApplyError::Invalid(OpError::NegativeDelta(-1)));
}

#[test]
fn owners_decide_who_changes_config() {
    let mut state = genesis(&[]);
    let set_rule = r#"{"type":"SET_RULE","ref":"/apps/game","value":"true"}"#;
    let err = apply(&mut state, "alice", set_rule).unwrap_err();
    assert!(
        matches!(
            &err,
            ApplyError::NotOwner {
                action: "write_rule",
                ..
            }
        ),
        "{err}"
    );

    // Root hands /apps/game to alice (branch_owner at / lets root create it).
    let give = Op::SetOwner {
        path: PathPattern::parse("/apps/game").unwrap(),
        owner: Some(OwnerConfig::sole("alice")),
    };
    state.apply(&give, &ctx(ROOT), &Builtins::new()).unwrap();
    apply(&mut state, "alice", set_rule).unwrap();
    apply(
        &mut state,
        "alice",
        r#"{"type":"SET_RULE","ref":"/apps/game/$p/score","value":"auth.addr == $p"}"#,
    )
    .unwrap();
    // Alice's rule is in force.
    apply(
        &mut state,
        "bob",
        r#"{"type":"SET_VALUE","ref":"/apps/game/bob/score","value":3}"#,
    )
    .unwrap();
    assert!(
        apply(
            &mut state,
            "bob",
            r#"{"type":"SET_VALUE","ref":"/apps/game/carol/score","value":3}"#
        )
        .is_err()
    );
    // Bob cannot touch alice's config, nor root's elsewhere.
    assert!(apply(&mut state, "bob", set_rule).is_err());
    assert!(
        apply(
            &mut state,
            "bob",
            r#"{"type":"SET_RULE","ref":"/other","value":"true"}"#
        )
        .is_err()
    );

    // Alice lets anyone write rules under /apps/game/open, without owner rights.
    let mut open = OwnerConfig::sole("alice");
    open.owners.insert(
        "*".to_owned(),
        OwnerPermissions {
            write_rule: true,
            ..Default::default()
        },
    );
    let open_op = Op::SetOwner {
        path: PathPattern::parse("/apps/game/open").unwrap(),
        owner: Some(open),
    };
    let bob_tries = state
        .apply(&open_op, &ctx("bob"), &Builtins::new())
        .unwrap_err();
    assert!(
        matches!(
            &bob_tries,
            ApplyError::NotOwner {
                action: "branch_owner",
                ..
            }
        ),
        "{bob_tries}"
    );
    state
        .apply(&open_op, &ctx("alice"), &Builtins::new())
        .unwrap();
    apply(
        &mut state,
        "bob",
        r#"{"type":"SET_RULE","ref":"/apps/game/open/x","value":"true"}"#,
    )
    .unwrap();
    assert!(apply(&mut state, "bob", r#"{"type":"SET_FUNCTION","ref":"/apps/game/open/x","value":{"function_id":"_transfer"}}"#).is_err());
    // Replacing the owner config at /apps/game/open needs write_owner there: bob lacks it.
    let err = state
        .apply(
            &Op::SetOwner {
                path: PathPattern::parse("/apps/game/open").unwrap(),
                owner: Some(OwnerConfig::sole("bob")),
            },
            &ctx("bob"),
            &Builtins::new(),
        )
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ApplyError::NotOwner {
                action: "write_owner",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn set_is_all_or_nothing() {
    let mut state = app_state();
    apply(
        &mut state,
        "alice",
        r#"{"type":"SET_VALUE","ref":"/apps/a/users/alice","value":1}"#,
    )
    .unwrap();
    let before_root = state.root_hash();
    let before = state.export();
    let failing = [
        // second op denied by rule
        r#"{"type":"SET","op_list":[
            {"type":"SET_VALUE","ref":"/apps/a/users/alice","value":{"deep":{"x":1}}},
            {"type":"SET_VALUE","ref":"/apps/a/users/bob","value":1}]}"#,
        // dec below zero after a successful write
        r#"{"type":"SET","op_list":[
            {"type":"SET_VALUE","ref":"/apps/a/users/alice","value":null},
            {"type":"INC_VALUE","ref":"/apps/a/counter","value":1},
            {"type":"DEC_VALUE","ref":"/apps/a/counter","value":2}]}"#,
        // config write without ownership after a data write
        r#"{"type":"SET","op_list":[
            {"type":"SET_VALUE","ref":"/apps/a/users/alice","value":5},
            {"type":"SET_RULE","ref":"/apps/$app/users/$user","value":"true"}]}"#,
        // failing native function after a write
        r#"{"type":"SET","op_list":[
            {"type":"SET_VALUE","ref":"/apps/a/users/alice","value":5},
            {"type":"SET_VALUE","ref":"/transfer/alice/bob/k/value","value":1}]}"#,
    ];
    for json in failing {
        assert!(apply(&mut state, "alice", json).is_err(), "{json}");
        assert_eq!(state.root_hash(), before_root, "{json}");
        assert_eq!(state.export(), before, "{json}");
    }
    apply(
        &mut state,
        "alice",
        r#"{"type":"SET","op_list":[
            {"type":"SET_VALUE","ref":"/apps/a/users/alice","value":2},
            {"type":"INC_VALUE","ref":"/apps/a/counter","value":3}]}"#,
    )
    .unwrap();
    assert_eq!(state.get_value(&path("/apps/a/users/alice")), Value::Int(2));
    assert_eq!(state.get_value(&path("/apps/a/counter")), Value::Int(3));
    assert_ne!(state.root_hash(), before_root);
}

#[test]
fn bad_input_is_rejected_with_a_clear_error() {
    let cases: [(&str, &str); 10] = [
        (
            r#"{"type":"SET_VALUE","ref":"/a","value":}"#,
            "malformed JSON at line 1, column 40",
        ),
        (
            r#"{"type":"MINT","ref":"/a","value":1}"#,
            "unknown op type \"MINT\"",
        ),
        (
            r#"{"type":"SET_VALUE","ref":"/a","value":1.5}"#,
            "floats are not allowed",
        ),
        (
            r#"{"type":"SET_VALUE","ref":"/a","value":1,"extra":0}"#,
            "unknown field \"extra\"",
        ),
        (
            r#"{"type":"SET_VALUE","ref":"/a/.rule","value":1}"#,
            "reserved",
        ),
        (
            r#"{"type":"SET_VALUE","ref":"/a","value":{"$x":1}}"#,
            "reserved",
        ),
        (
            r#"{"type":"SET_RULE","ref":"/a/$x","value":"$y == 1"}"#,
            "does not bind",
        ),
        (
            r#"{"type":"SET_RULE","ref":"/a","value":"auth.addr =="}"#,
            "rule parse error at column 13",
        ),
        (
            r#"{"type":"SET","op_list":[{"type":"SET","op_list":[]}]}"#,
            "may not contain a SET",
        ),
        (
            r#"{"type":"SET_VALUE","ref":"/a","value":[1]}"#,
            "arrays are not supported",
        ),
    ];
    for (json, needle) in cases {
        let err = Op::from_json_text(json).unwrap_err().to_string();
        assert!(err.contains(needle), "{json}: {err}");
    }
    let deep = format!(
        r#"{{"type":"SET_VALUE","ref":"{}","value":1}}"#,
        "/a".repeat(33)
    );
    assert!(
        Op::from_json_text(&deep)
            .unwrap_err()
            .to_string()
            .contains("too deep: 33 segments, at most 32")
    );
    // Depth counts the value's nesting too.
    let nested = format!(
        r#"{{"type":"SET_VALUE","ref":"{}","value":{{"b":{{"c":1}}}}}}"#,
        "/a".repeat(31)
    );
    assert!(
        Op::from_json_text(&nested)
            .unwrap_err()
            .to_string()
            .contains("too deep")
    );
    let big = format!(
        r#"{{"type":"SET_VALUE","ref":"/a","value":"{}"}}"#,
        "x".repeat(70_000)
    );
    let err = Op::from_json_text(&big).unwrap_err().to_string();
    assert!(
        err.contains("value too large") && err.contains("at most 65536"),
        "{err}"
    );

    // Ops built in code are validated at apply time too, and nothing is applied.
    let mut state = genesis(&[]);
    let root = state.root_hash();
    let huge = Op::SetValue {
        path: path("/a"),
        value: Value::Str("x".repeat(70_000)),
    };
    let err = state
        .apply_genesis(&huge, &ctx(ROOT), &Builtins::new())
        .unwrap_err();
    assert!(err.to_string().contains("value too large"), "{err}");
    let unbound = Op::SetRule {
        path: PathPattern::parse("/a").unwrap(),
        rule: Some(Rule::parse("$x == 1").unwrap()),
    };
    assert!(state.apply(&unbound, &ctx(ROOT), &Builtins::new()).is_err());
    let unknown_fn =
        op(r#"{"type":"SET_FUNCTION","ref":"/a","value":{"function_id":"_noSuchFunction"}}"#);
    assert_eq!(
        state
            .apply(&unknown_fn, &ctx(ROOT), &Builtins::new())
            .unwrap_err(),
        ApplyError::UnknownFunction("_noSuchFunction".to_owned())
    );
    assert_eq!(state.root_hash(), root);
}

#[test]
fn null_and_empty_objects_delete_and_prune() {
    let mut state = app_state();
    let root = state.root_hash();
    apply(
        &mut state,
        "alice",
        r#"{"type":"SET_VALUE","ref":"/apps/a/users/alice","value":{"x":{"y":1}}}"#,
    )
    .unwrap();
    assert_ne!(state.root_hash(), root);
    apply(
        &mut state,
        "alice",
        r#"{"type":"SET_VALUE","ref":"/apps/a/users/alice","value":{"x":{}}}"#,
    )
    .unwrap();
    assert_eq!(state.get_value(&path("/apps")), Value::Null);
    assert_eq!(
        state.root_hash(),
        root,
        "deleting everything written restores the root"
    );
}
