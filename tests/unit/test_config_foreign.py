"""Keywords of keepalived's other subsystems: one FILE:LINE message each, or a documented no-op."""

from __future__ import annotations

import pytest
from vrrp_agent.config import foreign, parse_text
from vrrp_agent.errors import ConfigError

INSTANCE = "vrrp_instance VI_1 {{\n interface eth0\n virtual_router_id 5\n{body}}}\n"


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        parse_text(text, "k.conf")
    return err.value


def _says_what_and_what_to_do(err: ConfigError, keyword: str, table) -> None:
    what, todo = table[keyword]
    assert err.message == f"'{keyword}' is {what}: {todo}"
    assert "vrrp_engine: keepalived" in todo or "remove the line" in todo


@pytest.mark.parametrize("keyword", sorted(foreign.TOP_LEVEL))
def test_top_level_block_of_another_subsystem_is_named_at_its_line(keyword):
    err = _error(f"global_defs {{\n router_id a\n}}\n{keyword} 10.0.0.1 80 {{\n delay_loop 6\n}}\n")
    assert (err.file, err.line) == ("k.conf", 4)
    _says_what_and_what_to_do(err, keyword, foreign.TOP_LEVEL)


@pytest.mark.parametrize("keyword", sorted(foreign.GLOBAL))
def test_global_keyword_of_another_subsystem_is_named_at_its_line(keyword):
    err = _error(f"global_defs {{\n router_id a\n {keyword} 1\n}}\n")
    assert (err.file, err.line) == ("k.conf", 3)
    _says_what_and_what_to_do(err, keyword, foreign.GLOBAL)


@pytest.mark.parametrize("keyword", sorted(foreign.INSTANCE))
def test_instance_keyword_of_another_subsystem_is_named_at_its_line(keyword):
    err = _error(INSTANCE.format(body=f" {keyword} eth1\n"))
    assert (err.file, err.line) == ("k.conf", 4)
    _says_what_and_what_to_do(err, keyword, foreign.INSTANCE)


def test_track_bfd_in_a_sync_group_is_named():
    text = (INSTANCE.format(body="") + INSTANCE.replace("VI_1", "VI_2").replace("5", "6").format(body="")
            + "vrrp_sync_group G {\n group {\n VI_1\n VI_2\n }\n track_bfd {\n b1\n }\n}\n")
    err = _error(text)
    assert err.line == 14
    _says_what_and_what_to_do(err, "track_bfd", foreign.SYNC_GROUP)


@pytest.mark.parametrize("keyword", sorted(foreign.NOOP_GLOBAL))
def test_global_noop_is_accepted_and_warns_when_it_has_no_effect(keyword):
    config = parse_text(f"global_defs {{\n {keyword} 4\n}}\n" + INSTANCE.format(body=""), "k.conf")
    reason, warn = foreign.NOOP_GLOBAL[keyword]
    expected = (f"k.conf:2: '{keyword}' has no effect in the agent: {reason}",) if warn else ()
    assert config.warnings == expected
    assert len(config.instances) == 1


@pytest.mark.parametrize("keyword", sorted(foreign.NOOP_TOP_LEVEL))
def test_top_level_noop_is_accepted_with_a_warning(keyword):
    config = parse_text(f"{keyword}\n" + INSTANCE.format(body=""), "k.conf")
    reason, _warn = foreign.NOOP_TOP_LEVEL[keyword]
    assert config.warnings == (f"k.conf:1: '{keyword}' has no effect in the agent: {reason}",)


def test_lvs_sync_daemon_interface_in_an_instance_is_accepted_with_a_warning():
    config = parse_text(INSTANCE.format(body=" lvs_sync_daemon_interface eth1\n"), "k.conf")
    (warning,) = config.warnings
    assert warning.startswith("k.conf:4: 'lvs_sync_daemon_interface' has no effect in the agent: deprecated")
    assert "lvs_sync_daemon" in warning and config.instances[0].interface == "eth0"


def test_misspelled_lvs_sync_daemon_inteface_is_refused_with_the_spelling():
    err = _error(INSTANCE.format(body=" lvs_sync_daemon_inteface eth1\n"))
    assert err.line == 4 and "lvs_sync_daemon_interface" in err.message and "misspelling" in err.message


def test_a_foreign_keyword_is_never_also_a_handled_or_pending_one():
    from vrrp_agent.config import instance, parser

    tables = [(foreign.TOP_LEVEL, parser.NOT_IMPLEMENTED_TOP | set(parser.OBJECT_PARSERS)),
              (foreign.NOOP_TOP_LEVEL, parser.NOT_IMPLEMENTED_TOP | set(parser.OBJECT_PARSERS)),
              (foreign.GLOBAL, parser.NOT_IMPLEMENTED_GLOBAL | set(parser.GLOBAL_HANDLERS)),
              (foreign.NOOP_GLOBAL, parser.NOT_IMPLEMENTED_GLOBAL | set(parser.GLOBAL_HANDLERS)),
              (foreign.INSTANCE, instance.NOT_IMPLEMENTED | set(instance.HANDLERS)),
              (foreign.NOOP_INSTANCE, instance.NOT_IMPLEMENTED | set(instance.HANDLERS))]
    for table, others in tables:
        assert not set(table) & others
