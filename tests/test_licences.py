"""The licence of the code and the attributions of the data shipped with it (issue 31)."""

import re
import tomllib

from geo_api.settings import PROJECT_ROOT


def test_the_code_licence_file_matches_pyproject():
    licence = (PROJECT_ROOT / "LICENSE").read_text(encoding="utf-8")
    declared = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["license"]
    assert declared == "MIT" and licence.startswith("MIT License")


def test_notice_attributes_every_licence_the_data_readmes_name():
    notice = (PROJECT_ROOT / "NOTICE").read_text(encoding="utf-8")
    readmes = "\n".join((PROJECT_ROOT / d / "README.md").read_text(encoding="utf-8")
                        for d in ("boundaries", "data"))
    for licence in ("Open Government Licence v3.0", "OS OpenData", "CC BY 4.0"):
        assert licence in readmes and licence in notice, licence
    # the attribution statements the licences require, word for word
    for statement in re.findall(r"Contains [^\"]*?(?:Licence v3\.0|database right(?: 2018)?)",
                                readmes.replace("\n  ", " ")):
        assert statement in notice.replace("\n  ", " "), statement
    for path in re.findall(r"\((boundaries/[^)\s]+?)\)", notice):  # what it points to exists
        assert list(PROJECT_ROOT.glob(path.rstrip("*") + "*")), path
