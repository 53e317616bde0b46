"""The words the maps use, in plain words (``GET /glossary``): one entry per term, each with
an anchor id the pages link to (``/glossary#hot-spot``)."""

from __future__ import annotations

from typing import NamedTuple


class Term(NamedTuple):
    id: str  # the anchor: /glossary#<id>
    term: str
    plain: str  # what it means, in plain words
    more: str = ""  # the technical detail, for analysts


GLOSSARY: tuple[Term, ...] = (
    Term("hot-spot", "Hot spot",
         "A small area where there are many more offences, in it and in the areas around it, "
         "than chance would give if offences were spread evenly over the city.",
         "On the maps, a hexagon marked by the Gi* statistic (see Gi*) at 90%, 95% or 99% "
         "confidence."),
    Term("cold-spot", "Cold spot",
         "The opposite of a hot spot: an area with many fewer offences, in it and around "
         "it, than chance would give. Cold spots are a layer you can switch on."),
    Term("confidence", "Confidence (90%, 95%, 99%)",
         "How sure the map is that a hot spot, or a change, is real and not chance. At 99% "
         "a pattern like it would turn up by chance about once in a hundred tries, at 95% "
         "once in twenty, at 90% once in ten. Higher is surer.",
         "1 minus the significance level (alpha); the hot spot maps control the false "
         "discovery rate across the hexagons (Benjamini-Hochberg)."),
    Term("clear", "Clear / too close to call",
         "How the answer in words says its certainty: a change is \"clear\" when it is "
         "bigger than chance would explain at 95% confidence, after allowing for the change "
         "across the whole city; \"too close to call\" when it could be chance.",
         "The comparison's verdict (direction): an exact conditional binomial test, "
         "Benjamini-Hochberg across the areas compared."),
    Term("gi-star", "Gi* (Getis-Ord)",
         "The statistic that finds hot and cold spots: it compares the offences in each "
         "hexagon and its neighbours with the city as a whole.",
         "Getis-Ord Gi* with the cell itself included, binary contiguity weights, a "
         "two-sided permutation test (999 permutations, fixed seed)."),
    Term("h3", "H3 hexagon",
         "The maps count offences in hexagons of equal size laid over the city (about 0.1 "
         "km², some 350 m across, at the size the maps use), so that areas can be compared "
         "fairly.",
         "Uber's H3 grid, resolution 9 by default."),
    Term("kde", "Heat map (KDE)",
         "A smooth surface that is darker where offences are closer together; it shows "
         "where they concentrate without the edges of areas.",
         "Kernel density estimation, quartic kernel, 300 m bandwidth on 100 m cells."),
    Term("pai", "PAI (Predictive Accuracy Index)",
         "How much of next month's violence the chosen places caught, for the small part of "
         "the city they cover: 10 means ten times more than places picked at random.",
         "Share of next month's offences in the places / share of the city's area they "
         "cover (Chainey et al. 2008)."),
    Term("pei", "PEI (Predictive Efficiency Index)",
         "How close the chosen places came to the best possible choice of the same size: "
         "1 is as good as anyone could have done knowing next month's offences.",
         "PAI / the best PAI possible for that area (Hunt 2016)."),
    Term("share", "Share",
         "An area's part of all the city's offences in a period: 23% means 23 of every "
         "100 offences in the city happened there. Comparing shares allows for the city as "
         "a whole rising or falling."),
    Term("percentage-point", "Percentage point",
         "The difference between two percentages: a share going from 23% to 14% fell by 9 "
         "percentage points (not by 9%)."),
    Term("npa", "NPA (neighbourhood policing area)",
         "The four policing areas of the city: Central (NC), East (NE), West (NW) and South "
         "(NS). The maps draw them from wards, so their edges are approximate."),
    Term("ward", "Ward",
         "An electoral ward of Leicester City Council (for example Castle); the maps name "
         "them and count offences in them."),
    Term("lsoa", "LSOA",
         "A small census area of about 1,500 residents (Lower layer Super Output Area); "
         "deprivation figures are given for them."),
    Term("postcode-sector", "Postcode sector",
         "A postcode without its last two letters (for example LE1 1): the area partners "
         "often share their data by."),
    Term("wdq", "WDQ (weighted displacement quotient)",
         "A number that asks whether violence moved from one area to the areas around it. "
         "Each is compared with a comparison area: below 0 means violence may have moved "
         "out to the areas around; above 0 means they improved too (the fall spread rather "
         "than moved). It cannot prove what caused a change.",
         "Bowers & Johnson (2003); read only when the target changed measurably against the "
         "control (Fisher's exact test)."),
    Term("people-zone", "People Zone",
         "A neighbourhood where partners work together with residents on the causes of "
         "violence. The planning map ranks wards as places to start those conversations, "
         "by violence and need."),
    Term("bleed-control-kit", "Bleed-control kit",
         "A public cabinet with a kit to stop heavy bleeding (for example after a stabbing) "
         "until an ambulance arrives."),
    Term("reach", "Reach (walking distance)",
         "The offences within a short distance of a kit, 200 m by default: about two "
         "minutes there and two back. With a street map loaded the distance is walked along "
         "streets; otherwise it is straight-line."),
    Term("focus-places", "Focus places",
         "The few places most likely to see violence next month, chosen by the method that "
         "predicted best on the months already loaded, numbered with their street names."),
    Term("withheld", "Withheld (disclosure)",
         "On the public view, numbers that could point to individual offences are not shown: "
         "counts of 1 to 4 say \"<5\", others are rounded to 5, and numbers worked out from "
         "exact counts are withheld. \"Withheld (few offences)\" means there were too few "
         "to show."),
)

__all__ = ["GLOSSARY", "Term"]
