"""HTTP over the modem: requests planned for AT+HTTPACTION, responses parsed by h11."""

from .client import HttpClient
from .decoder import END, HttpResponseDecoder
from .headers import Headers
from .options import DEFAULT_MAX_REDIRECTS, RecvMode, RequestOptions
from .request import RequestPlan, plan_request
from .response import Response
from .timeouts import Timeouts, TimeoutTypes
from .tls import TLSConfig, TLSVersion
from .url import URL, ModuleURL

__all__ = [
    "DEFAULT_MAX_REDIRECTS",
    "END",
    "URL",
    "Headers",
    "HttpClient",
    "HttpResponseDecoder",
    "ModuleURL",
    "RecvMode",
    "RequestOptions",
    "RequestPlan",
    "Response",
    "TLSConfig",
    "TLSVersion",
    "TimeoutTypes",
    "Timeouts",
    "plan_request",
]
