"""HTTP over the modem: requests planned for AT+HTTPACTION, responses parsed by h11."""

from .client import HttpClient
from .decoder import END, HttpResponseDecoder
from .encoding import DecompressionLimits, accept_encoding, supported_encodings
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
    "DecompressionLimits",
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
    "accept_encoding",
    "plan_request",
    "supported_encodings",
]
