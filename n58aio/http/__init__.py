"""HTTP over the modem: requests planned for AT+HTTPACTION, responses parsed by h11."""

from .client import HttpClient, RecvMode, Timeouts
from .decoder import END, HttpResponseDecoder
from .encoding import DecompressionLimits, accept_encoding, supported_encodings
from .headers import Headers
from .request import RequestPlan, plan_request
from .response import Response
from .tls import TLSConfig, TLSVersion
from .url import ModuleURL

__all__ = [
    "END",
    "DecompressionLimits",
    "Headers",
    "HttpClient",
    "HttpResponseDecoder",
    "ModuleURL",
    "RecvMode",
    "RequestPlan",
    "Response",
    "TLSConfig",
    "TLSVersion",
    "Timeouts",
    "accept_encoding",
    "plan_request",
    "supported_encodings",
]
