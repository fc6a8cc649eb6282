import pytest

from parc_mpi.nodes import NodeListError, parse_node_list, read_node_list

GOOD = "name,address,role,cores\npi0,pi0.local,main,4\npi1,pi1.local,worker,4\n"


def test_parses_main_first_with_cores_and_lines():
    text = "name,address,role,cores,user\npi1,pi1.local,worker,4,pi\npi0,pi0.local,main,2,pi\n"
    nodes = parse_node_list(text)
    assert [n.name for n in nodes] == ["pi0", "pi1"]
    assert nodes[0].is_main and nodes[0].cores == 2 and nodes[0].line == 3
    assert nodes[1].user == "pi"


def test_accepts_bom_crlf_blank_lines_and_comments(tmp_path):
    path = tmp_path / "node_list.csv"
    body = "# my cluster\r\n\r\nname,address,role,cores\r\n# the main one\r\n" \
           "pi0,pi0.local,main,4\r\n\r\npi1,pi1.local,worker,4\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    nodes = read_node_list(str(path))
    assert [(n.name, n.line) for n in nodes] == [("pi0", 5), ("pi1", 7)]


def test_shipped_parc_node_list_is_six_pis():
    from conftest import ROOT
    nodes = read_node_list(str(ROOT / "node_list.csv"))
    assert [n.name for n in nodes] == [f"pi{i}" for i in range(6)]
    assert nodes[0].is_main and all(n.cores == 4 for n in nodes)


@pytest.mark.parametrize("text, message", [
    ("", "node_list.csv: empty file"),
    ("# only a comment\n\n", "node_list.csv: empty file"),
    ("name,address,role\npi0,a,main\n", "node_list.csv:1: missing column 'cores'"),
    ("name,address,role,cores,colour\npi0,a,main,4,red\n",
     "node_list.csv:1: unknown column 'colour'"),
    ("name,address,role,cores\n", "node_list.csv: no nodes listed"),
    (GOOD + "pi0,pi9.local,worker,4\n", "node_list.csv:4: name 'pi0' duplicates line 2"),
    (GOOD + "pi9,pi1.local,worker,4\n", "node_list.csv:4: address 'pi1.local' duplicates line 3"),
    ("name,address,role,cores\npi0,a,main,four\n",
     "node_list.csv:2: cores must be a positive integer, got 'four'"),
    ("name,address,role,cores\npi0,a,main,0\n",
     "node_list.csv:2: cores must be a positive integer, got '0'"),
    ("name,address,role,cores\npi0,a,main,-2\n",
     "node_list.csv:2: cores must be a positive integer, got '-2'"),
    ("name,address,role,cores\npi0,a,main,2.5\n",
     "node_list.csv:2: cores must be a positive integer, got '2.5'"),
    ("name,address,role,cores\npi0,a,boss,4\n",
     "node_list.csv:2: role must be 'main' or 'worker', got 'boss'"),
    ("name,address,role,cores\npi0,a,worker,4\npi1,b,worker,4\n",
     "node_list.csv: no node has role 'main'"),
    ("name,address,role,cores\npi0,a,main,4\npi1,b,main,4\n",
     "node_list.csv:3: role 'main' is given twice (lines 2 and 3)"),
    ("name,address,role,cores\npi0,a,main\n", "node_list.csv:2: expected 4 fields"),
    ("name,address,role,cores\n,a,main,4\n", "node_list.csv:2: name is empty"),
    ("name,address,role,cores\npi0,my host,main,4\n",
     "node_list.csv:2: address must not contain spaces"),
])
def test_bad_node_list_names_file_line_and_field(text, message):
    with pytest.raises(NodeListError) as info:
        parse_node_list(text, "node_list.csv")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_missing_file_and_non_utf8(tmp_path):
    with pytest.raises(NodeListError, match="no such file"):
        read_node_list(str(tmp_path / "nope.csv"))
    bad = tmp_path / "latin.csv"
    bad.write_bytes(b"name,address,role,cores\n\xe9,a,main,4\n")
    with pytest.raises(NodeListError, match="latin.csv: not UTF-8"):
        read_node_list(str(bad))
