using System.Diagnostics.Metrics;
using FleetAspire.Names;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>
/// What this instance reports for the contract's gate (docs/adr/0014): when it last ran a legacy code path — a read
/// served from legacy, a write planned for legacy — and when a write transaction last failed. Recorded where the mode
/// is decided, so no code path is missed; sent with every registration heartbeat.
/// </summary>
public sealed class TransitionUsage
{
    private readonly Counter<long> _legacyPaths;
    private readonly Counter<long> _writeErrors;
    private long _legacyPathTicks;
    private long _writeErrorTicks;

    public TransitionUsage(IMeterFactory meters)
    {
        var meter = meters.Create(TelemetryNames.Meter);
        _legacyPaths = meter.CreateCounter<long>("fleet.migration.legacy_path.calls", description: "Reads and writes served by a legacy code path");
        _writeErrors = meter.CreateCounter<long>("fleet.migration.write_errors", description: "Write transactions that failed");
    }

    public DateTimeOffset? LastLegacyPathAt => At(ref _legacyPathTicks);

    public DateTimeOffset? LastWriteErrorAt => At(ref _writeErrorTicks);

    /// <param name="side">"read" or "write".</param>
    public void LegacyPathUsed(string side)
    {
        Interlocked.Exchange(ref _legacyPathTicks, DateTimeOffset.UtcNow.UtcTicks);
        _legacyPaths.Add(1, new KeyValuePair<string, object?>("side", side));
    }

    public void WriteFailed()
    {
        Interlocked.Exchange(ref _writeErrorTicks, DateTimeOffset.UtcNow.UtcTicks);
        _writeErrors.Add(1);
    }

    private static DateTimeOffset? At(ref long ticks) =>
        Interlocked.Read(ref ticks) is var t && t == 0 ? null : new DateTimeOffset(t, TimeSpan.Zero);
}
