//go:build baton_connector

// Built with -tags baton_connector (and a connector modfile, see tests/clients/README.md), the
// app connects through Baton's Go connector (connectors/go) instead of DBOS's own Conductor
// client, which the DBOS Go module no longer holds since v1.7.0. The rest of the app is the same.
package main

import _ "baton.local/batonconnector"
