using System.Diagnostics;
using FleetAspire.Names;

namespace FleetAspire.Messaging;

internal static class OutboxTelemetry
{
    public static readonly ActivitySource Source = new(TelemetryNames.ActivitySource);
}
