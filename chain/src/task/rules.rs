//! The rules genesis installs for task records (see the layout and the rules in [`super`]).

/// `getValue('/tasks/' + $task + '<leaf>')`, spelled out where the rules below use it.
macro_rules! task_value {
    ($leaf:literal) => {
        concat!("getValue('/tasks/' + $task + '", $leaf, "')")
    };
}

/// The owner writes once, while the task runs, to the current round once its model is posted.
macro_rules! owner_writes_current_round {
    () => {
        concat!(
            "auth.addr == ",
            task_value!("/owner"),
            " && data == null && ",
            task_value!("/status"),
            " == 'running' && '' + ",
            task_value!("/round"),
            " == $r && getValue('/tasks/' + $task + '/rounds/' + $r + '/model') != null"
        )
    };
}

/// The rules (pattern, source) genesis installs for task records.
pub const TASK_RULES: &[(&str, &str)] = &[
    ("/tasks/$task/owner", "data == null && newData == auth.addr"),
    (
        "/tasks/$task/config",
        concat!(
            "auth.addr == ",
            task_value!("/owner"),
            " && (",
            task_value!("/status"),
            " == null || ",
            task_value!("/status"),
            " == 'open') \
             && getValue('/tasks/' + $task + '/providers') == null \
             && getValue('/tasks/' + $task + '/setup') == null \
             && util.isObject(newData) \
             && ((util.length(newData) == 5 \
                  && (newData.reward == 'even' || newData.reward == 'proportional')) \
                 || (util.length(newData) == 6 && newData.reward == 'shapley' \
                     && util.isObject(newData.contribution))) \
             && util.isInt(newData.rounds) && newData.rounds > 0 \
             && util.isInt(newData.min_stake) && newData.min_stake >= 0 \
             && util.isObject(newData.challenge) && util.length(newData.challenge) == 3 \
             && util.isInt(newData.challenge.q) && newData.challenge.q > 0 \
             && util.isInt(newData.challenge.audit) && newData.challenge.audit >= 0 \
             && newData.challenge.audit <= 1000 \
             && util.isInt(newData.challenge.deadline) && newData.challenge.deadline > 0 \
             && util.isObject(newData.verifier) \
             && (util.length(newData.verifier) == 6 \
                 || (util.length(newData.verifier) == 7 \
                     && util.isString(newData.verifier.ceremony) \
                     && util.length(newData.verifier.ceremony) == 64)) \
             && newData.verifier.system == 'groth16' \
             && newData.verifier.relation == 'training-step' \
             && util.isString(newData.verifier.shape) && util.isString(newData.verifier.vk) \
             && util.isString(newData.verifier.program_digest) \
             && util.length(newData.verifier.program_digest) == 64 \
             && util.isObject(newData.verifier.lrs)"
        ),
    ),
    (
        "/tasks/$task/status",
        concat!(
            "auth.addr == ",
            task_value!("/owner"),
            " && ((data == null && newData == 'open') \
             || (data == 'open' && (newData == 'running' || newData == 'closed')) \
             || (data == 'running' && newData == 'closed'))"
        ),
    ),
    (
        "/tasks/$task/round",
        concat!(
            "auth.addr == ",
            task_value!("/owner"),
            " && util.isInt(newData) \
             && ((data == null && newData == 0) \
                 || (util.isInt(data) && newData == data + 1 \
                     && (data == 0 \
                         || getValue('/tasks/' + $task + '/rounds/' + data + '/aggregate') \
                            != null))) \
             && newData <= ",
            task_value!("/config"),
            ".rounds"
        ),
    ),
    (
        "/tasks/$task/clients/$n",
        concat!(
            "data == null && newData == auth.addr && ",
            task_value!("/status"),
            " == 'open'"
        ),
    ),
    (
        "/tasks/$task/data_roots/$root",
        concat!(
            "data == null && newData == auth.addr && util.length($root) == 64 && ",
            task_value!("/status"),
            " == 'open'"
        ),
    ),
    (
        "/tasks/$task/providers/$addr",
        concat!(
            "auth.addr == $addr && data == null && ",
            task_value!("/status"),
            " == 'open' \
             && util.isObject(newData) && util.length(newData) == 3 \
             && util.isInt(newData.samples) && newData.samples >= 1 \
             && newData.samples < 1048576 \
             && util.isInt(newData.client) && newData.client >= 0 \
             && newData.client <= 4294967295 \
             && getValue('/tasks/' + $task + '/clients/' + newData.client) == $addr \
             && util.isString(newData.data_root) && util.length(newData.data_root) == 64 \
             && getValue('/tasks/' + $task + '/data_roots/' + newData.data_root) == $addr \
             && (",
            task_value!("/config"),
            ".min_stake == 0 \
                 || (getValue('/tasks/' + $task + '/stakes/' + $addr) != null \
                     && getValue('/tasks/' + $task + '/stakes/' + $addr) >= ",
            task_value!("/config"),
            ".min_stake)) \
             && (",
            task_value!("/config"),
            ".verifier.ceremony == null \
                 || getValue('/tasks/' + $task + '/setup/training-step/' + $addr) != null) \
             && (",
            task_value!("/config"),
            ".contribution.ceremony == null \
                 || getValue('/tasks/' + $task + '/setup/contribution/' + $addr) != null)"
        ),
    ),
    (
        "/tasks/$task/setup/$key/$addr",
        concat!(
            "auth.addr == $addr && data == null && ",
            task_value!("/status"),
            " == 'open' && util.isString(newData) \
             && ($key == 'training-step' || $key == 'contribution') \
             && ($addr == ",
            task_value!("/owner"),
            " || (getValue('/tasks/' + $task + '/setup/' + $key + '/' + ",
            task_value!("/owner"),
            ") != null \
                   && getValue('/tasks/' + $task + '/turns/' + $key + '/addr') == $addr))"
        ),
    ),
    // The owner hands the turn to contribute to one party at a time, naming the receipt of the
    // contribution it checked (the function holds the contribution to it).
    (
        "/tasks/$task/turns/$key",
        concat!(
            "auth.addr == ",
            task_value!("/owner"),
            " && ",
            task_value!("/status"),
            " == 'open' && getValue('/tasks/' + $task + '/setup/' + $key + '/' + ",
            task_value!("/owner"),
            ") != null \
             && util.isObject(newData) && util.length(newData) == 2 \
             && util.isString(newData.addr) && util.isString(newData.receipt) \
             && util.length(newData.receipt) == 64"
        ),
    ),
    // A contribution is a bare string: nothing may be written below it (which would stand in
    // for one without the function's check).
    ("/tasks/$task/setup/$key/$addr/$below", "false"),
    ("/tasks/$task/transcripts", "false"),
    (
        "/tasks/$task/rounds/$r/model",
        concat!(
            "auth.addr == ",
            task_value!("/owner"),
            " && data == null && ",
            task_value!("/status"),
            " == 'running' && ",
            task_value!("/round"),
            " > 0 && '' + ",
            task_value!("/round"),
            " == $r && util.isString(newData) && util.length(newData) == 64"
        ),
    ),
    (
        "/tasks/$task/rounds/$r/logs/$addr",
        concat!(
            "auth.addr == $addr && data == null && ",
            task_value!("/status"),
            " == 'running' && '' + ",
            task_value!("/round"),
            " == $r \
             && getValue('/tasks/' + $task + '/rounds/' + $r + '/model') != null \
             && getValue('/tasks/' + $task + '/rounds/' + $r + '/aggregate') == null \
             && getValue('/tasks/' + $task + '/providers/' + $addr) != null \
             && util.isObject(newData) && util.length(newData) == 4 \
             && util.isString(newData.head) && util.length(newData.head) == 64 \
             && util.isString(newData.root) && util.length(newData.root) == 64 \
             && util.isString(newData.update) && util.length(newData.update) == 64 \
             && util.isInt(newData.steps) && newData.steps > 0"
        ),
    ),
    (
        "/tasks/$task/rounds/$r/aggregate",
        concat!(
            owner_writes_current_round!(),
            " \
             && util.isString(newData) && util.length(newData) == 64 \
             && (",
            task_value!("/config"),
            ".reward != 'shapley' \
                 || getValue('/tasks/' + $task + '/rounds/' + $r + '/valuation') != null)"
        ),
    ),
    (
        "/tasks/$task/rounds/$r/valuation",
        concat!(
            owner_writes_current_round!(),
            " \
             && getValue('/tasks/' + $task + '/rounds/' + $r + '/aggregate') == null \
             && util.isObject(newData) && util.length(newData) == 2 \
             && util.isString(newData.aggregate) && util.length(newData.aggregate) == 64 \
             && util.isString(newData.table) && util.length(newData.table) == 64"
        ),
    ),
    (
        "/tasks/$task/rounds/$r/contribution",
        concat!(
            "auth.addr == ",
            task_value!("/owner"),
            " && data == null && util.isObject(newData) && ",
            task_value!("/status"),
            " == 'running'"
        ),
    ),
    (
        "/tasks/$task/rounds/$r/draw",
        "data == null && util.isInt(newData) \
         && getValue('/tasks/' + $task + '/rounds/' + $r + '/sealed') != null",
    ),
    // The draw is a bare integer: nothing may be written below it (which would block it).
    ("/tasks/$task/rounds/$r/draw/$below", "false"),
    ("/tasks/$task/rounds/$r/sealed", "false"),
    ("/tasks/$task/rounds/$r/challenge", "false"),
    ("/tasks/$task/rounds/$r/proven", "false"),
    ("/tasks/$task/rounds/$r/shapley", "false"),
    (
        "/tasks/$task/proofs/$proof",
        concat!(
            "data == null && util.isObject(newData) && ",
            task_value!("/status"),
            " == 'running'"
        ),
    ),
    ("/tasks/$task/statements", "false"),
    ("/tasks/$task/verified", "false"),
    ("/tasks/$task/credited", "false"),
    ("/tasks/$task/slashed", "false"),
    ("/tasks/$task/payouts", "false"),
    ("/tasks/$task/refund", "false"),
    ("/tasks/$task/paid_by", "false"),
    ("/tasks/$task/values", "false"),
];
