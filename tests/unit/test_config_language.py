"""keepalived's config language beyond keywords: @id lines, $definitions, ~SEQ, CRLF, encodings."""

from __future__ import annotations

import contextlib
import io

import pytest
from vrrp_agent.cli import main
from vrrp_agent.config import load_config, parse_text
from vrrp_agent.config.preprocess import default_config_id
from vrrp_agent.errors import ConfigError

INSTANCE = "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n{body}}}\n"


def _names(config) -> list:
    return [(i.name, i.vrid, i.priority) for i in config.instances]


def test_at_id_lines_apply_only_on_the_matching_config_id():
    text = INSTANCE.format(name="VI_1", vrid=5, body=" @lb1 priority 150\n @lb2 priority 50\n"
                                                      " @^lb1 nopreempt\n")
    lb1 = parse_text(text, "t.conf", config_id="lb1").instances[0]
    lb2 = parse_text(text, "t.conf", config_id="lb2").instances[0]
    assert (lb1.priority, lb1.nopreempt) == (150, False)
    assert (lb2.priority, lb2.nopreempt) == (50, True)


def test_at_id_default_is_the_short_host_name(monkeypatch):
    import os

    fake = os.uname_result(("Linux", "lb7.example.net", "6", "1", "x86_64"))
    monkeypatch.setattr(os, "uname", lambda: fake)
    assert default_config_id() == "lb7"
    text = INSTANCE.format(name="VI_1", vrid=5, body=" @lb7 priority 77\n")
    assert parse_text(text, "t.conf").instances[0].priority == 77


def test_at_id_prefixes_whole_blocks_and_top_level_lines():
    text = ("@lb1 vrrp_instance VI_1 {\n@lb1  interface eth0\n@lb1  virtual_router_id 1\n@lb1 }\n"
            "@lb2 vrrp_instance VI_2 {\n@lb2  interface eth0\n@lb2  virtual_router_id 2\n@lb2 }\n")
    assert _names(parse_text(text, "t.conf", config_id="lb2")) == [("VI_2", 2, 100)]


def test_cli_config_id_option_selects_the_lines(tmp_path):
    conf = tmp_path / "k.conf"
    conf.write_text(INSTANCE.format(name="VI_1", vrid=5, body=" @a priority 150\n @b priorty 50\n"))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["check-config", "--offline", "-i", "a", "-f", str(conf)]) == 0
        assert main(["check-config", "--offline", "--config-id", "b", "-f", str(conf)]) == 1
    assert f"{conf}:5: unknown keyword 'priorty'" in err.getvalue()
    assert load_config(str(conf), "a").config_id == "a"


def test_definitions_replace_dollar_name_and_braced_name():
    text = ("$IF=eth1\n$PRIO = 120\n"
            "vrrp_instance VI_1 {\n interface $IF\n virtual_router_id 5\n priority ${PRIO}\n"
            " authentication {\n  auth_type PASS\n  auth_pass ab$c$\n }\n}\n")
    inst = parse_text(text, "t.conf").instances[0]
    assert (inst.interface, inst.priority) == ("eth1", 120)
    assert inst.auth_pass == b"ab$c$\0\0\0", "an unknown $name stays as written"


def test_definition_can_be_redefined_and_applies_from_its_line_on():
    text = ("$P=110\n" + INSTANCE.format(name="VI_1", vrid=1, body=" priority $P\n")
            + "$P=90\n" + INSTANCE.format(name="VI_2", vrid=2, body=" priority $P\n"))
    assert [i.priority for i in parse_text(text, "t.conf").instances] == [110, 90]


def test_multiline_definition_expands_into_several_lines():
    text = ("$COMMON=interface eth0 \\\n  advert_int 2 \\\n  nopreempt\n\n"
            "vrrp_instance VI_1 {\n virtual_router_id 5\n $COMMON\n}\n")
    inst = parse_text(text, "t.conf").instances[0]
    assert (inst.interface, inst.advert_int_cs, inst.nopreempt) == ("eth0", 200, True)


def test_seq_repeats_a_line_with_the_variable_set():
    text = ("$INST=vrrp_instance VI_${i} { \\\n interface eth0 \\\n virtual_router_id ${i} \\\n"
            " priority $PRIO \\\n}\n$PRIO=100\n~SEQ(i, 2, 2, 6) $INST\n")
    assert _names(parse_text(text, "t.conf")) == [("VI_2", 2, 100), ("VI_4", 4, 100), ("VI_6", 6, 100)]


def test_seq_one_and_two_value_forms_and_hex():
    text = ("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n virtual_ipaddress {\n"
            "~SEQ(n, 3) 2001:db8::$n\n~SEQx(h, 10, 11) 2001:db8::$h\n }\n}\n")
    vips = [v.address for v in parse_text(text, "t.conf").instances[0].vips]
    assert vips == ["2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::a", "2001:db8::b"]


@pytest.mark.parametrize("line, message", [
    ("~SEQ(i, 1, -1, 5) x", "never reaches the end"),
    ("~SEQ(i) x", "invalid ~SEQ"),
    ("~SEQ(i, a, 5) x", "invalid ~SEQ values"),
    ("~SEQx(i, -2, 5) x", "positive numbers"),
    ("~LST({a},{1}) x", "'~LST({a},{1})' is not supported"),
    ("$A=$A\n$A", "do not settle"),
])
def test_bad_language_forms_are_errors_with_their_line(line, message):
    with pytest.raises(ConfigError) as err:
        parse_text(f"! head\n{line}\n", "t.conf")
    assert err.value.line == line.count("\n") + 2 and message in err.value.message


def test_builtin_definitions():
    body = (" notify_master \"/bin/echo $_INSTANCE ${_RANDOM 7 7} ${_PWD}\"\n"
            " notify_backup \"/bin/echo $_PWD\"\n")
    notify = parse_text(INSTANCE.format(name="VI_1", vrid=5, body=body), "/etc/keepalived/t.conf",
                        config_id="lb3").instances[0].notify
    assert notify.master.argv == ("/bin/echo", "lb3", "7", "/etc/keepalived")
    assert notify.backup.argv == ("/bin/echo", "$_PWD"), "$NAME glued to a quote is not replaced (keepalived)"


def test_definitions_reach_included_files(tmp_path):
    (tmp_path / "inst.conf").write_text(INSTANCE.format(name="VI_1", vrid=5, body=" priority $P\n"))
    top = tmp_path / "keepalived.conf"
    top.write_text("$P=142\ninclude inst.conf\n")
    assert load_config(str(top)).instances[0].priority == 142


def test_crlf_file_loads_with_right_line_numbers(tmp_path):
    conf = tmp_path / "crlf.conf"
    crlf = INSTANCE.replace("\n", "\r\n")
    conf.write_bytes(crlf.format(name="VI_1", vrid=5, body=" priorty 3\r\n").encode())
    with pytest.raises(ConfigError) as err:
        load_config(str(conf))
    assert (err.value.line, err.value.message) == (4, "unknown keyword 'priorty' in vrrp_instance")
    conf.write_bytes(crlf.format(name="VI_1", vrid=5, body=" priority 3\r\n").encode())
    assert load_config(str(conf)).instances[0].priority == 3


def test_form_feed_and_other_unicode_line_breaks_do_not_shift_line_numbers(tmp_path):
    conf = tmp_path / "ff.conf"
    conf.write_text("! a \x0c comment\u2028 more\n" + INSTANCE.format(name="VI_1", vrid=5, body=" bad 1\n"))
    with pytest.raises(ConfigError) as err:
        load_config(str(conf))
    assert err.value.line == 5


def test_latin1_file_is_read_with_a_warning_naming_it(tmp_path):
    conf = tmp_path / "latin1.conf"
    body = " notify_master \"/usr/local/bin/caf\xe9.sh\"\n"
    conf.write_bytes(("! r\xe9seau\n" + INSTANCE.format(name="VI_1", vrid=5, body=body)).encode("latin-1"))
    config = load_config(str(conf))
    assert config.instances[0].notify.master.argv == ("/usr/local/bin/caf\xe9.sh",)
    assert config.warnings == (f"{conf}:1: not valid UTF-8 (byte 0xe9); the file is read as latin-1",)


def test_utf8_bom_is_skipped(tmp_path):
    conf = tmp_path / "bom.conf"
    conf.write_bytes(b"\xef\xbb\xbf" + INSTANCE.format(name="VI_1", vrid=5, body="").encode())
    config = load_config(str(conf))
    assert config.instances[0].name == "VI_1" and config.warnings == ()
