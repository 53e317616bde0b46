"""Response models (pydantic) with field descriptions and examples, one module per topic."""

from geo_api.web.api.models.common import *
from geo_api.web.api.models.compare import *
from geo_api.web.api.models.digest import *
from geo_api.web.api.models.forecast import *
from geo_api.web.api.models.hotspots import *
from geo_api.web.api.models.indicators import *
from geo_api.web.api.models.meta import *
from geo_api.web.api.models.ogc import *
from geo_api.web.api.models.planning import *
