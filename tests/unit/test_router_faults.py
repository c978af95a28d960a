"""Router additions for tracking and sync groups: fault sources, priority changes, WantMaster."""

from __future__ import annotations

import logging

from vrrp_agent.packet import Advertisement
from vrrp_agent.router import (
    BACKUP,
    FAULT,
    MASTER,
    AddVips,
    DelVips,
    Router,
    RouterParams,
    SendAdvert,
    StateChanged,
    WantMaster,
)

LOG = logging.getLogger("test")


def router(priority=100, **kw) -> Router:
    r = Router(RouterParams(version=2, priority=priority, adver_int_cs=100, **kw), LOG)
    r.primary_ip = bytes([198, 51, 100, 11])
    return r


def advert(priority) -> Advertisement:
    return Advertisement(2, 51, priority, 1, 100, 0, b"", b"\0" * 4, "plain")


def test_fault_from_master_sends_priority_zero_then_drops_vips_and_recovers_as_backup():
    r = router(150)
    r.start(0.0)
    r.on_timer(10.0)
    assert r.state == MASTER
    actions = r.enter_fault(11.0, "tracking: script chk failed")
    assert actions[:2] == [SendAdvert(0), DelVips()]
    assert actions[2] == StateChanged(MASTER, FAULT, "tracking: script chk failed")
    assert r.enter_fault(11.5, "again") == []
    assert r.on_advert(advert(200), b"\xc6\x33\x64\x0c", 12.0) == []  # FAULT ignores adverts
    assert [type(a) for a in r.leave_fault(13.0)] == [StateChanged]
    assert r.state == BACKUP and r.next_deadline() is not None


def test_priority_change_goes_out_in_the_next_advert():
    r = router(150)
    r.start(0.0)
    r.on_timer(10.0)
    r.set_priority(90, 10.2)
    assert SendAdvert(90) in r.on_timer(11.0)


def test_sync_member_asks_before_becoming_master():
    r = router(100, sync_member=True)
    r.start(0.0)
    actions = r.on_timer(10.0)
    assert actions == [WantMaster("master down timer expired")]
    assert r.state == BACKUP and r.wants_master and r.next_deadline() is None
    # hearing a master again withdraws the wish
    r.on_advert(advert(150), b"\xc6\x33\x64\x0c", 10.5)
    assert not r.wants_master and r.next_deadline() is not None
    r.on_timer(20.0)
    actions = r.force_master(20.1, "sync group ready")
    assert actions[0] == SendAdvert(100) and actions[1] == AddVips()
    assert r.state == MASTER and not r.wants_master


def test_force_backup_releases_with_priority_zero():
    r = router(150)
    r.start(0.0)
    r.on_timer(10.0)
    actions = r.force_backup(11.0, "sync group G: VI_2 is BACKUP")
    assert actions[:2] == [SendAdvert(0), DelVips()] and r.state == BACKUP
    assert r.force_backup(11.1, "x") == [] and r.force_master(11.1, "y") != []
