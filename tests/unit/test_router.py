"""The state machine, rule by rule, with explicit `now` (RFC 5798 §6, RFC 3768 §6, keepalived)."""

from __future__ import annotations

import logging

import pytest
from vrrp_agent.packet import Advertisement
from vrrp_agent.router import (
    BACKUP,
    FAULT,
    FAULTED,
    INIT,
    MASTER,
    MASTER_DOWN,
    PREEMPTED,
    SHUTDOWN,
    STANDBY,
    STARTUP,
    SYNC,
    TAKEOVER,
    TRANSITIONS,
    AddVips,
    Announce,
    DelVips,
    Router,
    RouterParams,
    SendAdvert,
    StateChanged,
)

LOG = logging.getLogger("test")
ME = bytes([198, 51, 100, 11])
LOWER_IP = bytes([198, 51, 100, 5])
HIGHER_IP = bytes([198, 51, 100, 20])


def router(priority=100, version=2, adver_int_cs=100, **kw) -> Router:
    r = Router(RouterParams(version=version, priority=priority, adver_int_cs=adver_int_cs, **kw), LOG)
    r.primary_ip = ME
    return r


def advert(priority, version=2, adver_int_cs=100) -> Advertisement:
    return Advertisement(version, 51, priority, 1, adver_int_cs, 0, b"", b"\0" * 4, "plain")


def kinds(actions):
    return [type(a) for a in actions]


def test_rfc3768_6_1_v2_master_down_interval_uses_skew():
    r = router(priority=150)
    r.start(0.0)
    assert r.state == BACKUP
    assert r.next_deadline() == pytest.approx(3 + 106 / 256)


def test_rfc5798_6_1_v3_skew_scales_with_master_adver_interval():
    r = router(priority=200, version=3, adver_int_cs=100)
    r.start(0.0)
    assert r.next_deadline() == pytest.approx(3 + 56 / 256)  # 321 cs in FRR's doc: 3.21 s
    r.on_advert(advert(250, version=3, adver_int_cs=10), HIGHER_IP, 1.0)
    assert r.master_adver_int_cs == 10
    assert r.next_deadline() == pytest.approx(1.0 + 0.3 + 56 * 0.1 / 256)


def test_rfc3768_v2_does_not_learn_the_interval():
    r = router(priority=100)
    r.start(0.0)
    r.on_advert(advert(150, adver_int_cs=200), HIGHER_IP, 1.0)
    assert r.master_adver_int_cs == 100


def test_rfc5798_6_4_1_owner_becomes_master_at_once_advert_first():
    r = router(priority=255)
    actions = r.start(0.0)
    assert kinds(actions) == [SendAdvert, AddVips, Announce, StateChanged]
    assert actions[0] == SendAdvert(255) and actions[2] == Announce(5)
    assert r.state == MASTER


def test_rfc5798_6_4_2_down_timer_expiry_makes_master():
    r = router(priority=100)
    r.start(0.0)
    now = r.next_deadline()
    actions = r.on_timer(now)
    assert kinds(actions) == [SendAdvert, AddVips, Announce, StateChanged]
    assert r.state == MASTER and r.counters["became_master"] == 1


def test_rfc5798_6_4_3_master_sends_an_advert_each_interval():
    r = router(priority=255)
    r.start(0.0)
    sent = []
    for _ in range(5):
        now = r.next_deadline()
        sent += [a for a in r.on_timer(now) if isinstance(a, SendAdvert)]
    assert len(sent) == 5 and r.next_deadline() == pytest.approx(6.0)


def test_rfc5798_6_4_2_backup_resets_its_timer_on_higher_or_equal_priority():
    r = router(priority=100)
    r.start(0.0)
    for t in (1.0, 2.0, 3.0, 4.0):
        r.on_advert(advert(100), HIGHER_IP, t)  # equal priority is accepted (keepalived: >=)
    assert r.state == BACKUP and r.next_deadline() == pytest.approx(4.0 + 3 + 156 / 256)
    assert r.master_ip == HIGHER_IP and r.master_priority == 100


def test_rfc5798_6_4_2_preempting_backup_ignores_a_lower_master_and_times_out():
    r = router(priority=150)
    r.start(0.0)
    down_at = r.next_deadline()
    r.on_advert(advert(100), LOWER_IP, 1.0)
    assert r.next_deadline() == down_at, "a lower-priority advert must not reset the timer"
    assert r.counters["lower_priority_ignored"] == 1
    r.on_timer(down_at)
    assert r.state == MASTER


def test_rfc5798_6_4_2_nopreempt_accepts_a_lower_master_forever():
    r = router(priority=150, nopreempt=True)
    r.start(0.0)
    for t in range(1, 30):
        r.on_advert(advert(100), LOWER_IP, float(t))
        r.on_timer(float(t))
    assert r.state == BACKUP


def test_preempt_delay_accepts_a_lower_master_until_it_runs_out():
    r = router(priority=150, preempt_delay_s=10.0)
    r.start(0.0)
    for t in range(1, 11):
        r.on_advert(advert(100), LOWER_IP, float(t))
        r.on_timer(float(t))
    assert r.state == BACKUP  # delay armed at t=1, still running at t=10
    r.on_advert(advert(100), LOWER_IP, 11.5)  # ignored now
    r.on_timer(r.next_deadline())
    assert r.state == MASTER


def test_rfc5798_6_4_2_priority_zero_sets_skew_time():
    r = router(priority=100)
    r.start(0.0)
    r.on_advert(advert(0), HIGHER_IP, 2.0)
    assert r.next_deadline() == pytest.approx(2.0 + 156 / 256)
    assert r.counters["priority_zero_received"] == 1


def test_rfc5798_6_4_3_master_answers_priority_zero_with_an_advert():
    r = router(priority=255)
    r.start(0.0)
    assert r.on_advert(advert(0), HIGHER_IP, 0.5) == [SendAdvert(255)]
    assert r.next_deadline() == pytest.approx(1.5)


def test_rfc5798_6_4_3_master_yields_to_higher_priority():
    r = router(priority=100)
    r.start(0.0)
    r.on_timer(r.next_deadline())
    actions = r.on_advert(advert(150), LOWER_IP, 5.0)
    assert kinds(actions) == [DelVips, StateChanged] and r.state == BACKUP
    assert r.master_ip == LOWER_IP


def test_rfc5798_6_4_3_equal_priority_higher_primary_ip_wins():
    r = router(priority=100)
    r.start(0.0)
    r.on_timer(r.next_deadline())
    assert r.state == MASTER
    # lower IP at equal priority: we stay master, answer at once and re-announce
    actions = r.on_advert(advert(100), LOWER_IP, 5.0)
    assert r.state == MASTER and actions[0] == SendAdvert(100) and Announce(5) in actions
    assert r.counters["dual_master_seen"] == 1
    r.on_advert(advert(100), HIGHER_IP, 5.1)
    assert r.state == BACKUP


def test_rfc9568_master_answers_a_lower_priority_at_once():
    r = router(priority=200)
    r.start(0.0)
    r.on_timer(r.next_deadline())
    actions = r.on_advert(advert(100), HIGHER_IP, 5.0)
    assert actions[0] == SendAdvert(200) and r.state == MASTER


def test_rfc5798_6_4_3_shutdown_sends_priority_zero_and_releases():
    r = router(priority=255)
    r.start(0.0)
    actions = r.shutdown(1.0)
    assert actions == [SendAdvert(0), DelVips(), StateChanged(MASTER, INIT, "stop")]
    assert r.counters["priority_zero_sent"] == 1 and r.next_deadline() is None


def test_link_down_faults_a_master_after_priority_zero_and_link_up_restarts():
    r = router(priority=255)
    r.start(0.0)
    actions = r.link_down(1.0)
    assert kinds(actions) == [SendAdvert, DelVips, StateChanged] and actions[0] == SendAdvert(0)
    assert r.state == FAULT and r.next_deadline() is None
    assert r.on_advert(advert(100), HIGHER_IP, 1.5) == []
    r.link_up(2.0)
    assert r.state == MASTER  # the owner goes straight back


def test_garp_second_burst_after_delay_and_refresh():
    r = router(priority=255, garp_master_delay_s=5.0, garp_master_refresh_s=60.0,
               garp_master_refresh_repeat=2)
    r.start(0.0)
    bursts = []
    now = 0.0
    while now < 130:
        now = r.next_deadline()
        bursts += [(now, a.repeat) for a in r.on_timer(now) if isinstance(a, Announce)]
    assert bursts[:3] == [(5.0, 5), (60.0, 2), (120.0, 2)]


def test_no_second_burst_when_delay_is_zero():
    r = router(priority=255, garp_master_delay_s=0.0)
    r.start(0.0)
    for _ in range(10):
        assert not any(isinstance(a, Announce) for a in r.on_timer(r.next_deadline()))


def test_takeover_is_make_before_break_and_standby_gives_up_at_once():
    r = router(priority=100)
    r.start(0.0)
    r.on_advert(advert(150), HIGHER_IP, 0.5)
    actions = r.takeover(1.0)
    # the old master is alive: VIPs and their GARP first, then the advert that makes it yield
    assert kinds(actions)[:3] == [AddVips, Announce, SendAdvert] and actions[2] == SendAdvert(254)
    assert r.state == MASTER
    actions = r.standby(2.0)
    assert actions[:2] == [SendAdvert(0), DelVips()] and r.state == BACKUP
    assert r.effective_priority == 1
    r.release(3.0)
    assert r.effective_priority == 100


def test_a_master_reports_what_it_advertises_as_master_priority():
    r = router(priority=100)
    r.start(0.0)
    r.on_timer(r.next_deadline())
    assert (r.state, r.master_priority) == (MASTER, 100)
    r.takeover(5.0)
    assert r.master_priority == 254
    r.release(5.5)
    r.set_priority(90, 6.0)  # a tracking weight while master
    assert r.master_priority == 90
    r.release(7.0)
    assert r.master_priority == 90


# ---- one owner of priority (rule 5): base, tracked, override -> effective

def test_effective_priority_is_override_else_tracked_else_base():
    r = router(priority=100)
    assert (r.base_priority, r.effective_priority) == (100, 100)
    r.set_priority(120, 0.0)
    assert r.effective_priority == 120
    r.takeover(1.0)
    assert (r.override, r.effective_priority) == ("takeover", 254)
    r.set_priority(80, 2.0)  # tracking while the override holds: remembered, not advertised
    assert r.effective_priority == 254 and r.tracked_priority == 80
    r.standby(3.0)
    assert (r.override, r.effective_priority) == ("standby", 1)
    r.release(4.0)
    assert (r.override, r.effective_priority) == (None, 80)  # the tracked one, not the base


def test_a_master_under_takeover_keeps_254_when_tracking_drops():
    r = router(priority=100)
    r.start(0.0)
    r.takeover(1.0)
    assert r.state == MASTER
    r.set_priority(50, 1.5)
    assert SendAdvert(254) in r.on_timer(r.next_deadline())


def test_reload_keeps_the_override_and_takes_the_new_base():
    r = router(priority=100)
    r.start(0.0)
    r.standby(1.0)
    assert r.reconfigure(r.params._replace(priority=150), 2.0) == []
    assert (r.override, r.effective_priority, r.base_priority) == ("standby", 1, 150)
    r.release(3.0)
    assert r.effective_priority == 150  # tracked was for the old base: it reports again


def test_reload_without_override_keeps_the_tracked_priority_of_the_same_base():
    r = router(priority=100)
    r.set_priority(110, 0.0)
    r.reconfigure(r.params._replace(adver_int_cs=200), 1.0)
    assert r.effective_priority == 110


def test_transition_table_holds_the_rfc_transitions_and_fault_only():
    pairs = {(old, new) for old, causes in TRANSITIONS.items() for targets in causes.values()
             for new in targets}
    # RFC 5798 §6.4: Initialize -> Backup/Master (Startup), Backup -> Master, Master -> Backup,
    # Backup/Master -> Initialize (Shutdown); keepalived adds FAULT, left as a Startup.
    assert pairs == {
        (INIT, BACKUP), (INIT, MASTER), (BACKUP, MASTER), (MASTER, BACKUP),
        (BACKUP, INIT), (MASTER, INIT),
        (INIT, FAULT), (BACKUP, FAULT), (MASTER, FAULT),
        (FAULT, BACKUP), (FAULT, MASTER), (FAULT, INIT),
    }
    assert set(TRANSITIONS[BACKUP]) == {MASTER_DOWN, SHUTDOWN, FAULTED, TAKEOVER, SYNC}
    assert set(TRANSITIONS[MASTER]) == {PREEMPTED, SHUTDOWN, FAULTED, STANDBY, SYNC}


@pytest.mark.parametrize("state,new,cause", [
    (INIT, MASTER, MASTER_DOWN),   # a master-down timer cannot fire before Startup
    (FAULT, MASTER, MASTER_DOWN),  # nor in FAULT
    (FAULT, MASTER, TAKEOVER),     # a takeover does not skip the fault
    (INIT, BACKUP, PREEMPTED),     # only a Master is preempted
    (BACKUP, BACKUP, STARTUP),     # same state: nothing happens either
    (MASTER, FAULT, STARTUP),      # Startup never leads to FAULT
    (INIT, FAULT, SHUTDOWN),
])
def test_transition_table_refuses_what_it_does_not_hold(state, new, cause, caplog):
    r = router()
    r.state = state
    with caplog.at_level(logging.ERROR, logger="test"):
        assert r._change_state(new, 0.0, "test", cause) == []
    assert r.state == state and r.counters["transitions"] == 0 and r.last_transition is None
    if new != state:
        assert "this is a bug: no transition" in caplog.text


def test_a_refused_become_master_has_no_side_effect():
    r = router()
    r.state = FAULT
    assert r._become_master(1.0, "test", MASTER_DOWN) == []
    assert r.state == FAULT and r.next_deadline() is None
    assert r.counters["became_master"] == 0 and r.counters["adverts_sent"] == 0


def test_rfc5798_6_4_2_preempting_a_live_lower_master_is_make_before_break():
    r = router(priority=100)
    r.start(0.0)
    r.on_advert(advert(50), HIGHER_IP, 0.5)  # a live lower-priority master: discarded, we preempt
    actions = r.on_timer(r.next_deadline())
    assert kinds(actions) == [AddVips, Announce, SendAdvert, StateChanged]
    assert r.state == MASTER


def test_rfc5798_6_4_2_a_silent_master_is_replaced_advert_first():
    r = router(priority=100)
    r.start(0.0)
    r.on_advert(advert(150), HIGHER_IP, 0.5)  # the master we follow, then silence
    actions = r.on_timer(r.next_deadline())
    assert kinds(actions) == [SendAdvert, AddVips, Announce, StateChanged]


def test_rfc5798_6_4_2_a_lower_master_that_stops_is_replaced_advert_first():
    r = router(priority=100)
    r.start(0.0)
    r.on_advert(advert(50), HIGHER_IP, 0.5)
    r.on_advert(advert(0), HIGHER_IP, 0.6)  # it leaves (priority 0): nothing to make before break
    actions = r.on_timer(r.next_deadline())
    assert kinds(actions)[0] is SendAdvert and r.state == MASTER


def test_rfc5798_6_4_3_the_next_advert_can_be_brought_forward_never_later():
    r = router(priority=255, version=3, adver_int_cs=10)
    assert r.advert_due is None
    r.start(0.0)
    assert r.advert_due == pytest.approx(0.1)
    r.advance_advert(0.2)
    assert r.advert_due == pytest.approx(0.1)
    r.advance_advert(0.05)
    assert r.advert_due == pytest.approx(0.05)
    assert kinds(r.on_timer(0.05)) == [SendAdvert]
    assert r.advert_due == pytest.approx(0.15)
