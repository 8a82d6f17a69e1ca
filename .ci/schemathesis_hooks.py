"""Schemathesis hooks for .ci/schemathesis.sh.

`format: phone` (a phone the API parses by libphonenumber's rules, which no
pattern can mirror) is generated from phones those rules accept, in the
spellings the API documents: E.164, spaces, dashes, brackets, `00`.
"""

import schemathesis
from hypothesis import strategies as st

PHONES = [
    "+254712345678",
    "+254 712 345 678",
    "+254-733-000-111",
    "00254712000001",
    "+55 (11) 98765-4321",
    "+44 20 7946 0958",
    "+44 7700 900123",
    "+91 62686 62275",
    "+919355421616",
    "+1 555 010 0999",
]

schemathesis.openapi.format("phone", st.sampled_from(PHONES))
