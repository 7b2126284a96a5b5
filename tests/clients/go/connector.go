//go:build baton_connector

// Built with -tags baton_connector (and a connector modfile, see tests/clients/README.md), the
// app connects through Baton's Go connector (connectors/go) instead of DBOS's own Conductor
// client, which the DBOS Go module no longer holds since v1.7.0. The rest of the app is the same.
// BATON_TEST_CONNECTOR_RECOVERY (runtime_recover, public_resume) forces a recovery path.
package main

import (
	"os"

	"baton.local/batonconnector"
)

func init() {
	if err := batonconnector.UseRecovery(batonconnector.Strategy(os.Getenv("BATON_TEST_CONNECTOR_RECOVERY"))); err != nil {
		panic(err)
	}
}
