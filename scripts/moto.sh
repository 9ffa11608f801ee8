#!/usr/bin/env bash
# Installs moto's server, the AWS emulator the AWS backend's tests run against, into a venv at
# .venv/moto, and prints the path of its `moto_server` executable.
#
# Safe to run again: an existing venv with the pinned version is reused.
exec "$(dirname "$0")/python-tool.sh" moto "moto[server]" 5.2.6 moto_server
