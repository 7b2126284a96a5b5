// The connector's errors.
//
//   ConnectorError      root
//     ConfigError       connect() cannot run as asked (DBOS not launched, executor id "local",
//                       a bad URL): thrown to the application at once
//     ProtocolError     a conductor frame the connector cannot read: answered, never thrown to
//                       the application
//     NotSupported      a verb the public DBOS API cannot serve: answered with
//                       "<verb> is not supported by this client ..."
'use strict';

class ConnectorError extends Error {
  constructor(message) {
    super(message);
    this.name = this.constructor.name;
  }
}

class ConfigError extends ConnectorError {}

class ProtocolError extends ConnectorError {}

class NotSupported extends ConnectorError {}

module.exports = { ConnectorError, ConfigError, ProtocolError, NotSupported };
