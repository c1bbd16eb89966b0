#!/usr/bin/env bash
# Sensor --summary vs tshark on every real capture (see oracle_check.py).
exec python3 "$(dirname "$0")/oracle_check.py"
