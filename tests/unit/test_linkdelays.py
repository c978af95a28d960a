"""linkdelays.LinkDelays on the virtual loop: keepalived's debounce rules one by one."""

from __future__ import annotations

import asyncio

from fakehost import VirtualLoop
from vrrp_agent.config.model import LinkDelay
from vrrp_agent.linkdelays import LinkDelays

ETH0, ETH1 = 2, 3


def make(raw):
    loop = VirtualLoop()
    delays = LinkDelays(loop, lambda name: raw[name], {"eth0": ETH0, "eth1": ETH1}.__getitem__,
                        (LinkDelay("eth0", 2.0, 1.0),))
    settled = []
    delays.on_settled = settled.extend
    return loop, delays, settled


def advance(loop, seconds):
    loop.run_until_complete(asyncio.sleep(seconds))


def test_no_delay_before_the_link_was_seen_up_then_each_direction_waits_its_own():
    raw = {"eth0": False, "eth1": True}
    loop, d, settled = make(raw)
    assert d.filter([(ETH0, False)]) == [(ETH0, False)], "first state: at once"
    raw["eth0"] = True
    assert d.filter([(ETH0, True)]) == [(ETH0, True)], "never seen up: the first up is at once"
    raw["eth0"] = False
    assert d.filter([(ETH0, False)]) == [] and d.is_up("eth0"), "down waits 2 s, acting stays up"
    assert d.filter([(ETH0, False)]) == [], "the same change again: still one timer"
    advance(loop, 1.9)
    assert settled == [] and d.is_up("eth0")
    advance(loop, 0.2)
    assert settled == [(ETH0, False)] and not d.is_up("eth0")
    raw["eth0"] = True
    assert d.filter([(ETH0, True)]) == []
    advance(loop, 1.1)
    assert settled[-1] == (ETH0, True) and d.is_up("eth0"), "up waits its 1 s"
    assert d.filter([(ETH1, False)]) == [(ETH1, False)], "an interface without delays: at once"
    loop.close()


def test_a_return_within_the_delay_cancels_and_a_reload_that_drops_the_delay_reads_the_link():
    raw = {"eth0": True, "eth1": True}
    loop, d, settled = make(raw)
    assert d.is_up("eth0")
    raw["eth0"] = False
    d.filter([(ETH0, False)])
    raw["eth0"] = True
    assert d.filter([(ETH0, True)]) == [] and d.pending == {}
    advance(loop, 3)
    assert settled == [] and d.is_up("eth0")
    raw["eth0"] = False
    d.filter([(ETH0, False)])
    d.configure(())  # reload without interface_up_down_delays
    raw["eth0"] = True  # and the link came back meanwhile
    advance(loop, 3)
    assert settled == [(ETH0, True)], "the link as it is now, not the stale change"
    assert d.is_up("eth0") and raw["eth0"]
    loop.close()
