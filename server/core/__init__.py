"""What every layer may use: settings, database, errors, i18n, logging, the live event bus."""
