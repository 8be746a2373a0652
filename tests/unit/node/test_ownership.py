"""The ownership rules of node files, as data: merge, conflicts, prune, the record itself."""

from __future__ import annotations

import json

from regcred.core.credentials.dockerconfig import parse_config_json
from regcred.core.node import ownership


def cfg(doc) -> object:
    return parse_config_json(json.dumps(doc), "config.json")


OTHER = {"username": "o", "password": "op", "auth": "bzpvcA=="}


def test_plan_adds_and_keeps_everything_else():
    current = cfg({"auths": {"other.example.com": OTHER}, "HttpHeaders": {"User-Agent": "x"}, "extra": 1})
    plan = ownership.plan_install(current, [("reg.example.com", "u", "p", "")], {})
    assert plan.added == ["reg.example.com"] and plan.kept == ["other.example.com"]
    assert plan.document["auths"]["other.example.com"] == OTHER
    assert plan.document["extra"] == 1 and plan.document["HttpHeaders"] == {"User-Agent": "x"}
    assert set(plan.owned) == {"reg.example.com"}


def test_plan_identical_entry_changes_nothing():
    current = cfg({"auths": {"reg.example.com": {"username": "u", "password": "p", "auth": "dTpw"}}})
    plan = ownership.plan_install(current, [("reg.example.com", "u", "p", "")], {})
    assert plan.document is None and plan.kept == ["reg.example.com"] and plan.owned == {}


def test_plan_conflict_unless_owned_or_overwrite():
    current = cfg({"auths": {"reg.example.com": OTHER}})
    wanted = [("reg.example.com", "u", "p", "")]
    assert ownership.plan_install(current, wanted, {}).conflicts == ["reg.example.com"]
    assert ownership.plan_install(current, wanted, {}, on_conflict="keep").document is None
    assert ownership.plan_install(current, wanted, {}, on_conflict="overwrite").replaced == ["reg.example.com"]
    owned = {"reg.example.com": ownership.entry_fingerprint(OTHER)}
    rotated = ownership.plan_install(current, wanted, owned)
    assert rotated.replaced == ["reg.example.com"] and rotated.conflicts == []


def test_prune_removes_only_unchanged_entries_regcred_wrote():
    mine = {"username": "u", "password": "p", "auth": "dTpw"}
    current = cfg({"auths": {"gone.example.com": mine, "edited.example.com": OTHER, "hand.example.com": mine}})
    owned = {"gone.example.com": ownership.entry_fingerprint(mine), "edited.example.com": ownership.entry_fingerprint(mine)}
    plan = ownership.plan_install(current, [], owned, prune=True)
    assert plan.removed == ["gone.example.com"]
    assert set(plan.document["auths"]) == {"edited.example.com", "hand.example.com"}
    assert plan.owned == {}  # the edited entry is somebody else's now


def test_ownership_record_round_trip_and_bad_content():
    owned = {"b": "2", "a": "1"}
    assert ownership.parse_ownership(ownership.dumps_ownership(owned)) == owned
    for bad in (b"", b"{", b"[]", b'{"entries": 3}'):
        assert ownership.parse_ownership(bad) == {}


def test_runtime_auth_plan_claims_only_what_regcred_writes():
    mine, theirs = {"username": "a", "password": "p"}, {"username": "b", "password": "q"}
    fp = ownership.entry_fingerprint(mine)
    owned = {"gone.io": fp, "edited.io": fp, "kept.io": fp, "absent.io": fp}
    before = {"gone.io": mine, "edited.io": theirs, "kept.io": mine, "same.io": mine, "other.io": theirs}
    wanted = {"same.io": mine, "new.io": mine, "other.io": mine, "edited.io": mine}
    keep = [*wanted, "kept.io"]
    plan = ownership.plan_runtime_auth(owned, before, wanted, keep, on_conflict="keep", prune=True)
    # gone.io is still regcred's and unwanted; edited.io and other.io hold auth someone else wrote
    assert plan == ownership.RuntimeAuthPlan(write=["new.io"], remove=["gone.io"], conflicts=["edited.io", "other.io"],
                                   owned={"kept.io": fp, "new.io": fp})  # same.io was already so: not claimed
    plan = ownership.plan_runtime_auth(owned, before, wanted, keep, on_conflict="overwrite", prune=False)
    assert (plan.write, plan.remove, plan.conflicts) == (["edited.io", "new.io", "other.io"], [], [])
    assert plan.owned == {"gone.io": fp, "kept.io": fp, "edited.io": fp, "new.io": fp, "other.io": fp}


# --- the record as a crash-safe pair: pending fingerprints around the file write ----------------------------------


def test_a_record_written_before_the_file_names_old_and_new_as_regcreds():
    old, new = {"username": "u", "password": "old"}, {"username": "u", "password": "new"}
    settled = {"r.io": ownership.entry_fingerprint(old)}
    wanted = {"r.io": ownership.entry_fingerprint(new), "added.io": ownership.entry_fingerprint(new)}
    steps = ownership.record_steps(ownership.read_record(ownership.dumps_ownership(settled)), settled, wanted)
    before = ownership.read_record(steps.before)
    assert before.entries == settled  # an older regcred reads the state before the write
    assert before.pending == {k: frozenset([fp]) for k, fp in wanted.items()}
    # whichever rename a kill interrupted, the file's entry is regcred's
    assert before.settled({"r.io": old}) == settled and before.settled({"r.io": new}) == {"r.io": wanted["r.io"]}
    assert before.settled({"added.io": new}) == {"added.io": wanted["added.io"]} and before.settled({}) == {}
    assert before.settled({"r.io": OTHER}) == settled  # someone else's: not matched, as before
    assert ownership.read_record(steps.after) == ownership.OwnershipRecord(wanted) and not steps.remove


def test_record_steps_write_nothing_when_nothing_changes_and_settle_a_pending_record():
    fp = ownership.entry_fingerprint(OTHER)
    settled = {"r.io": fp}
    quiet = ownership.record_steps(ownership.OwnershipRecord(settled), settled, settled)
    assert quiet == ownership.RecordSteps(None, None, False)
    interrupted = ownership.OwnershipRecord({}, {"r.io": frozenset([fp])})
    assert ownership.record_steps(interrupted, settled, settled) == ownership.RecordSteps(
        None, ownership.dumps_ownership(settled), False)
    removal = ownership.record_steps(ownership.OwnershipRecord(settled), settled, {})
    assert removal == ownership.RecordSteps(None, None, True)  # after the file: a record naming a gone entry is harmless
    for bad in (b'{"entries": {}, "pending": {"r.io": "x"}}', b'{"pending": [1]}', b'{"pending": {"r.io": [1, "a"]}}'):
        record = ownership.read_record(bad)
        assert record.entries == {} and all(v <= {"a"} for v in record.pending.values())
