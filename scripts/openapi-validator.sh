#!/usr/bin/env bash
# Installs openapi-spec-validator, which the tests run on the OpenAPI documents portkey writes,
# into a venv at .venv/openapi, and prints the path of its executable.
#
# Safe to run again: an existing venv with the pinned version is reused.
exec "$(dirname "$0")/python-tool.sh" openapi openapi-spec-validator 0.9.0 openapi-spec-validator
