"""stac-api-validator, run offline: its command line, with schema URLs answered from local copies
and any other network access refused (see offline.py).

    python api_validator.py --root-url http://127.0.0.1:PORT/stac --conformance core ...
"""

import sys

import offline

offline.install()

from stac_api_validator.__main__ import main  # noqa: E402

if __name__ == "__main__":
    # The command answers 1 when the validator itself crashed, which click's standalone mode
    # would turn into exit status 0: run it without that mode and pass the answer on.
    status = main(prog_name="stac-api-validator", standalone_mode=False)
    if status:
        sys.exit(status)
