//! The incremental state root equals a root computed from scratch, and the tree matches a
//! plain nested-object model, after random op sequences (including failing ones).

use std::collections::BTreeMap;

use chain::state_root::root_of_value;
use chain::{Builtins, Context, Op, Path, StateTree, Value};
use proptest::prelude::*;

/// The reference model: the data as one nested value, edited directly.
fn model_set(model: &mut Value, segments: &[String], new: Value) {
    let Some((first, rest)) = segments.split_first() else {
        *model = new;
        return;
    };
    if !matches!(model, Value::Object(_)) {
        if new.is_absent() {
            return;
        }
        *model = Value::Object(BTreeMap::new());
    }
    if let Value::Object(map) = model {
        let child = map.entry(first.clone()).or_insert(Value::Null);
        model_set(child, rest, new);
    }
}

fn model_get(model: &Value, segments: &[String]) -> Value {
    segments
        .iter()
        .fold(model.clone(), |v, s| v.child(s).clone())
}

/// Applies one non-SET op to the model; `None` if the ledger must reject it.
fn model_apply(model: &Value, op: &Op) -> Option<Value> {
    let mut next = model.clone();
    match op {
        Op::SetValue { path, value } => {
            model_set(&mut next, path.segments(), value.clone().normalized())
        }
        Op::IncValue { path, delta } | Op::DecValue { path, delta } => {
            let current = match model_get(model, path.segments()) {
                Value::Null => 0,
                Value::Int(i) => i,
                _ => return None,
            };
            let new = if matches!(op, Op::IncValue { .. }) {
                current + delta
            } else {
                current - delta
            };
            if new < 0 {
                return None;
            }
            model_set(&mut next, path.segments(), Value::Int(new));
        }
        Op::Set(ops) => {
            for op in ops {
                next = model_apply(&next, op)?;
            }
        }
        _ => unreachable!("the generator makes value ops only"),
    }
    Some(next.normalized())
}

fn small_path() -> impl Strategy<Value = Path> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..4)
        .prop_map(|s| Path::from_segments(s).unwrap())
}

fn small_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        2 => Just(Value::Null),
        3 => (0i128..20).prop_map(Value::Int),
        1 => prop::sample::select(vec!["x", "y"]).prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::Bool),
    ];
    leaf.prop_recursive(2, 12, 3, |inner| {
        prop::collection::btree_map(
            prop::sample::select(vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]),
            inner,
            0..3,
        )
        .prop_map(Value::Object)
    })
}

fn value_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (small_path(), small_value()).prop_map(|(path, value)| Op::SetValue { path, value }),
        2 => (small_path(), 0i128..10).prop_map(|(path, delta)| Op::IncValue { path, delta }),
        2 => (small_path(), 0i128..10).prop_map(|(path, delta)| Op::DecValue { path, delta }),
    ]
}

fn any_value_op() -> impl Strategy<Value = Op> {
    prop_oneof![4 => value_op(), 1 => prop::collection::vec(value_op(), 1..4).prop_map(Op::Set)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn incremental_root_matches_recomputation(ops in prop::collection::vec(any_value_op(), 1..25)) {
        let mut state = StateTree::new();
        let ctx = Context::new("root", 0, 0);
        let natives = Builtins::new();
        let mut model = Value::Null;
        for op in &ops {
            let before = state.root_hash();
            let expected = model_apply(&model, op);
            let result = state.apply_genesis(op, &ctx, &natives);
            prop_assert_eq!(result.is_ok(), expected.is_some(), "{:?}: {:?}", op, result);
            match expected {
                Some(next) => model = next,
                None => prop_assert_eq!(state.root_hash(), before),
            }
            prop_assert_eq!(state.get_value(&Path::root()), model.clone());
            prop_assert_eq!(state.root_hash(), root_of_value(&state.export()));
        }
        // A fresh tree given the final data in one write has the same root.
        let mut fresh = StateTree::new();
        fresh.apply_genesis(&Op::SetValue { path: Path::root(), value: model }, &ctx, &natives).unwrap();
        prop_assert_eq!(fresh.root_hash(), state.root_hash());
    }
}

#[test]
fn root_commits_to_config_and_data() {
    let ctx = Context::new("root", 0, 0);
    let natives = Builtins::new();
    let empty = StateTree::new().root_hash();
    let mut a = StateTree::new();
    a.apply_genesis(
        &Op::from_json_text(r#"{"type":"SET_RULE","ref":"/x","value":"true"}"#).unwrap(),
        &ctx,
        &natives,
    )
    .unwrap();
    let mut b = StateTree::new();
    b.apply_genesis(
        &Op::from_json_text(r#"{"type":"SET_RULE","ref":"/x","value":"false"}"#).unwrap(),
        &ctx,
        &natives,
    )
    .unwrap();
    assert_ne!(a.root_hash(), empty);
    assert_ne!(a.root_hash(), b.root_hash());
    // Tampering: the same data with one integer changed hashes differently.
    let v1 = Value::from_json(r#"{"values":{"a":{"b":1}}}"#).unwrap();
    let v2 = Value::from_json(r#"{"values":{"a":{"b":2}}}"#).unwrap();
    let v3 = Value::from_json(r#"{"values":{"a":{"b":"1"}}}"#).unwrap();
    assert_ne!(root_of_value(&v1), root_of_value(&v2));
    assert_ne!(root_of_value(&v1), root_of_value(&v3));
}

/// A store that counts writes, to show a commit touches only the written path.
#[derive(Default)]
struct CountingStore {
    inner: chain::store::MemStore,
    puts: std::cell::Cell<usize>,
}

impl chain::store::NodeStore for CountingStore {
    fn get(&self, key: &[String]) -> Option<chain::store::StoredNode> {
        self.inner.get(key)
    }
    fn put(&mut self, key: &[String], node: chain::store::StoredNode) {
        self.puts.set(self.puts.get() + 1);
        self.inner.put(key, node);
    }
    fn delete(&mut self, key: &[String]) {
        self.inner.delete(key);
    }
}

#[test]
fn a_write_rehashes_only_its_path() {
    let ctx = Context::new("root", 0, 0);
    let natives = Builtins::new();
    let mut state = StateTree::with_store(CountingStore::default());
    let mut big = BTreeMap::new();
    for i in 0..500 {
        big.insert(
            format!("n{i}"),
            Value::from_json(&format!(r#"{{"x":{i},"y":{{"z":"s{i}"}}}}"#)).unwrap(),
        );
    }
    let load = Op::SetValue {
        path: Path::parse("/data").unwrap(),
        value: Value::Object(big),
    };
    state.apply_genesis(&load, &ctx, &natives).unwrap();
    let before = state.store().puts.get();
    let one = Op::SetValue {
        path: Path::parse("/data/n7/y/z").unwrap(),
        value: Value::from("changed"),
    };
    state.apply_genesis(&one, &ctx, &natives).unwrap();
    let puts = state.store().puts.get() - before;
    // 5 nodes on the path (root, values, data, n7, y) plus the leaf, each written once by the
    // write and once by the rehash: 12, out of about 2000 nodes.
    assert_eq!(puts, 12);
    assert_eq!(state.root_hash(), root_of_value(&state.export()));
}
