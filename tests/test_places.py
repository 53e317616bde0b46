"""Places named as people know them: real streets, once, no blanks; a stock label only
beside its nearest street (SYNTHETIC fixtures: invented points and names)."""

import numpy as np
import pytest

from geo_api.analysis.places import clean, name_places, place_label


@pytest.mark.parametrize("text, want", [
    ("On or near Granby Street", ("street", "Granby Street")),
    ("On or near  Granby  Street ", ("street", "Granby Street")),
    ("On or near ", ("none", None)), ("On or near", ("none", None)), ("", ("none", None)),
    (None, ("none", None)), ("No Location", ("none", None)),
    ("On or near Shopping Area", ("stock", "Shopping area")),
    ("On or near Sports/Recreation Area", ("stock", "Sports/recreation area")),
    ("On or near Haymarket Bus Station", ("street", "Haymarket Bus Station")),
])
def test_clean(text, want):
    assert clean(text) == want


def test_names_are_streets_once_with_stock_labels_beside_their_nearest_street():
    unit = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, -1])
    text = ["On or near ", "On or near Granby Street", "On or near Granby Street",
            "On or near Granby Street", "On or near Shopping Area", "On or near Shopping Area",
            "On or near Charles Street", "On or near Supermarket", "On or near ",
            "On or near Vaughan Way"]
    x = np.array([0, 10, 10, 10, 500, 500, 20, 1100, 0, 1200], float)
    y = np.zeros(10)
    got = name_places(unit, text, x, y, [0, 1, 2])
    # unit 0: the blank is dropped; the shopping area (x=500) is nearest Charles Street
    assert got[0] == [("Granby Street", 3), ("Shopping area off Charles Street", 2),
                      ("Charles Street", 1)]
    # unit 1: only a stock label and a blank: named by the nearest street anywhere
    assert got[1] == [("Supermarket off Vaughan Way", 1)]
    assert got[2] == []
    assert place_label(n for n, _ in got[0]) == ("Granby Street; Shopping area off Charles "
                                                 "Street; Charles Street")
    for names in got.values():
        assert all(n and "On or near" not in n for n, _ in names)


def test_a_stock_label_with_no_street_anywhere_is_not_a_name():
    got = name_places(np.array([0, 0]), ["On or near Nightclub", "On or near "],
                      np.array([0.0, 1.0]), np.zeros(2), [0])
    assert got == {0: []}
