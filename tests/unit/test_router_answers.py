"""A master's answers to foreign adverts are budgeted (answers.py), with explicit `now`.

RFC 5798 §6.4.3: a master answers priority 0 with an advert and resets its
Adver_Timer; RFC 9568 §6.4.3 / keepalived: it answers a lower priority the same
way and re-announces (garp_lower_prio_*). A flood of such packets must not
turn either answer into one packet out per packet in.
"""

from __future__ import annotations

import logging

import pytest
from vrrp_agent.answers import EPISODE_MIN_S, AnswerBudget
from vrrp_agent.config import parse_text
from vrrp_agent.errors import ConfigError
from vrrp_agent.packet import Advertisement
from vrrp_agent.router import (
    BACKUP,
    MASTER,
    Announce,
    DelVips,
    Router,
    RouterParams,
    RxLowerPriority,
    SendAdvert,
    StateChanged,
)

LOG = logging.getLogger("test")
ME = bytes([198, 51, 100, 11])
FOREIGN = bytes([198, 51, 100, 200])
INTERVAL = 0.1


def master(priority=200, **kw) -> Router:
    r = Router(RouterParams(version=3, priority=priority, adver_int_cs=10, **kw), LOG)
    r.primary_ip = ME
    r.start(0.0)
    r.on_timer(r.next_deadline())
    assert r.state == MASTER
    return r


def advert(priority) -> Advertisement:
    return Advertisement(3, 51, priority, 1, 10, 0, b"", b"\0" * 4, "pseudo")


def flood(r: Router, priorities, start: float, seconds: float, rate: int):
    """`rate` packets a second for `seconds`, timers run in between; every action returned."""
    out = []
    n = int(seconds * rate)
    for i in range(n):
        now = start + i / rate
        deadline = r.next_deadline()
        while deadline is not None and deadline <= now:
            out += r.on_timer(deadline)
            deadline = r.next_deadline()
        out += r.on_advert(advert(priorities[i % len(priorities)]), FOREIGN, now)
    return out


def count(actions, kind):
    return sum(1 for a in actions if type(a) is kind)


def test_rfc5798_6_4_3_priority_zero_flood_gets_one_answer_per_interval():
    r = master()
    out = flood(r, [0], start=1.0, seconds=10, rate=5000)
    adverts = count(out, SendAdvert)
    # 100 periodic adverts plus at most one answer per interval
    assert adverts <= 2 * 10 / INTERVAL + 2, adverts
    assert r.counters["answers_suppressed"] >= 49000 - adverts
    assert r.state == MASTER


def test_rfc9568_6_4_3_lower_priority_flood_is_bounded_in_adverts_garps_and_hooks():
    r = master(garp_lower_prio_repeat=5, garp_lower_prio_delay_s=5.0)
    out = flood(r, [100, 0, 150], start=1.0, seconds=10, rate=10000)
    assert count(out, SendAdvert) <= 2 * 10 / INTERVAL + 2
    # one episode per 5 s: an immediate burst and the delayed one each
    bursts = [a for a in out if type(a) is Announce]
    assert len(bursts) <= 4 and all(a.repeat == 5 for a in bursts), bursts
    assert count(out, RxLowerPriority) <= 2 == r.counters["lower_priority_episodes"]
    assert r.state == MASTER


def test_rfc9568_6_4_3_a_single_lower_priority_advert_is_still_answered_at_once():
    r = master(garp_lower_prio_repeat=3)
    out = r.on_advert(advert(100), FOREIGN, 5.0)
    assert out[0] == SendAdvert(200)
    assert Announce(3) in out and RxLowerPriority(100, FOREIGN) in out
    assert r.next_deadline() == pytest.approx(5.0 + INTERVAL)


def test_rfc5798_6_4_3_answers_resume_after_an_interval():
    r = master()
    assert r.on_advert(advert(0), FOREIGN, 5.0) == [SendAdvert(200)]
    assert r.on_advert(advert(0), FOREIGN, 5.05) == []
    assert r.on_advert(advert(0), FOREIGN, 5.0 + INTERVAL) == [SendAdvert(200)]


def test_lower_prio_no_advert_keeps_the_garps_and_the_hook():
    r = master(lower_prio_no_advert=True, garp_lower_prio_repeat=2)
    out = r.on_advert(advert(100), FOREIGN, 5.0)
    assert SendAdvert(200) not in out
    assert out == [Announce(2), RxLowerPriority(100, FOREIGN)]


def test_rfc5798_6_4_3_higher_prio_send_advert_sends_one_before_yielding():
    r = master(priority=100, higher_prio_send_advert=True)
    out = r.on_advert(advert(150), FOREIGN, 5.0)
    assert out[0] == SendAdvert(100) and type(out[1]) is DelVips
    assert type(out[-1]) is StateChanged and r.state == BACKUP


def test_rfc5798_6_4_3_without_higher_prio_send_advert_the_master_yields_silently():
    r = master(priority=100)
    out = r.on_advert(advert(150), FOREIGN, 5.0)
    assert SendAdvert(100) not in out and r.state == BACKUP


def test_episode_lasts_garp_delay_with_a_floor():
    b = AnswerBudget()
    assert b.episode_opens(0.0, 0.0)
    assert not b.episode_opens(EPISODE_MIN_S - 0.01, 0.0)
    assert b.episode_opens(EPISODE_MIN_S, 5.0)
    assert not b.episode_opens(EPISODE_MIN_S + 4.9, 5.0)
    assert b.episode_opens(EPISODE_MIN_S + 5.0, 5.0)


CONF = """global_defs {{
{g}}}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {{
        198.51.100.100/24
    }}
{i}}}
"""


def load(g="", i=""):
    return parse_text(CONF.format(g=g, i=i), "k.conf")


def test_keywords_parse_with_keepalived_booleans_and_global_defaults():
    cfg = load(g="    vrrp_lower_prio_no_advert\n    vrrp_higher_prio_send_advert on\n")
    inst = cfg.instances[0]
    assert inst.lower_prio_no_advert and inst.higher_prio_send_advert
    inst = load(g="    vrrp_lower_prio_no_advert\n",
                i="    lower_prio_no_advert false\n    higher_prio_send_advert\n").instances[0]
    assert not inst.lower_prio_no_advert and inst.higher_prio_send_advert
    inst = load(i='    notify_master_rx_lower_pri "/bin/true reclaim"\n').instances[0]
    assert inst.notify.master_rx_lower_pri.argv == ("/bin/true", "reclaim")


@pytest.mark.parametrize("line", ["    lower_prio_no_advert maybe\n",
                                  "    higher_prio_send_advert on off\n",
                                  "    notify_master_rx_lower_pri\n"])
def test_bad_keyword_values_name_the_line(line):
    with pytest.raises(ConfigError) as err:
        load(i=line)
    assert "k.conf:" in str(err.value)


def backup_following(master_ip=bytes([198, 51, 100, 12])) -> Router:
    r = Router(RouterParams(version=3, priority=100, adver_int_cs=10), LOG)
    r.primary_ip = ME
    r.start(0.0)
    r.on_advert(advert(150), master_ip, 0.05)
    return r


def test_rfc5798_6_4_2_priority_zero_from_the_master_it_follows_sets_skew_time():
    master_ip = bytes([198, 51, 100, 12])
    r = backup_following(master_ip)
    r.on_advert(advert(0), master_ip, 1.0)
    assert r.next_deadline() == pytest.approx(1.0 + r.skew_time_s())


def test_rfc5798_6_4_2_foreign_priority_zero_leaves_the_down_timer_of_a_live_master():
    r = backup_following()
    due = r.next_deadline()
    for i in range(100):
        assert r.on_advert(advert(0), FOREIGN, 0.06 + i * 0.001) == []
    assert r.next_deadline() == due and r.state == BACKUP
    assert r.counters["foreign_priority_zero_ignored"] == 100


def test_rfc5798_6_4_2_priority_zero_with_no_known_master_sets_skew_time():
    r = Router(RouterParams(version=3, priority=100, adver_int_cs=10), LOG)
    r.primary_ip = ME
    r.start(0.0)
    r.on_advert(advert(0), FOREIGN, 0.2)
    assert r.next_deadline() == pytest.approx(0.2 + r.skew_time_s())


def test_rfc5798_6_4_2_a_forged_lower_master_cannot_cut_the_down_timer_of_the_best_one():
    master_ip = bytes([198, 51, 100, 12])
    r = backup_following(master_ip)
    r.on_advert(advert(120), FOREIGN, 0.1)  # >= ours: accepted (RFC), but not the best live
    due = r.next_deadline()
    r.on_advert(advert(0), FOREIGN, 0.11)
    assert r.next_deadline() == due and r.counters["foreign_priority_zero_ignored"] == 1


def test_rfc5798_6_4_2_after_the_best_master_leaves_the_next_one_is_followed():
    master_ip, second = bytes([198, 51, 100, 12]), bytes([198, 51, 100, 13])
    r = backup_following(master_ip)
    r.on_advert(advert(0), master_ip, 1.0)  # the master leaves
    r.on_advert(advert(120), second, 1.05)  # the next one takes over
    r.on_advert(advert(0), second, 1.2)  # and leaves too: skew time again
    assert r.next_deadline() == pytest.approx(1.2 + r.skew_time_s())
