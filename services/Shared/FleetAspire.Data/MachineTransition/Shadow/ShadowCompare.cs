using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using FleetAspire.Data.MachineTransition.Modes;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Names;
using Microsoft.Extensions.Options;

namespace FleetAspire.Data.MachineTransition.Shadow;

public sealed class ShadowOptions
{
    public const string Section = "MachineTransition:Shadow";

    /// <summary>Share of reads (0–100 %) compared with the other side in <c>DualWrite</c>.</summary>
    public double DualWriteRate { get; set; } = 10;

    /// <summary>Share of reads (0–100 %) compared with the other side in <c>MachineRead</c>.</summary>
    public double MachineReadRate { get; set; } = 10;

    /// <summary>Share of dual-writing transactions (0–100 %) whose rows are compared on both sides after commit.</summary>
    public double WriteCheckRate { get; set; } = 10;

    /// <summary>Comparisons waiting for the worker; beyond it new ones are dropped and counted, never waited for.</summary>
    public int QueueCapacity { get; set; } = 1024;

    public double RateFor(TransitionPhase phase) => phase switch
    {
        TransitionPhase.DualWrite => DualWriteRate,
        TransitionPhase.MachineRead => MachineReadRate,
        _ => 0,
    };
}

/// <summary>One divergence a comparison found: where, and what.</summary>
public sealed record ShadowFinding(string Entity, string EntityId, FieldDivergence Divergence);

/// <summary>What a comparison found, and the records it compared clean (their open shadow records resolve).</summary>
public sealed record ShadowResult(IReadOnlyList<ShadowFinding> Findings, IReadOnlyList<(string Entity, string Id)> Clean);

/// <summary>
/// A comparison to run off the request path: it reads the side that did not serve the request in a scope (and so a
/// DbContext) of its own, never the request's.
/// </summary>
public sealed record ShadowWork(TransitionPhase Phase, string ServedBy, ActivityContext Request, DateTimeOffset OfferedAt,
    Func<IServiceProvider, CancellationToken, Task<ShadowResult>> CompareAsync)
{
    /// <summary>What found it: a shadow read, or the check of a committed dual-write.</summary>
    public string Source { get; init; } = ShadowTelemetry.SourceShadow;
}

/// <summary>
/// Shadow compare on reads. A request offers a comparison; whether it runs is sampled by the phase's rate. Offering
/// never waits: a full queue drops the work and counts it (<c>fleet.migration.shadow.dropped</c>). The request's added
/// latency is bounded by one sampling draw and one non-blocking channel write — no I/O, no lock held across I/O.
/// </summary>
public sealed class ShadowCompareQueue
{
    private readonly IOptionsMonitor<ShadowOptions> _options;
    private readonly Channel<ShadowWork> _channel;
    private readonly Counter<long> _dropped;
    private long _accepted;
    private long _droppedCount;

    public ShadowCompareQueue(IOptionsMonitor<ShadowOptions> options, IMeterFactory meters)
    {
        _options = options;
        _channel = Channel.CreateBounded<ShadowWork>(new BoundedChannelOptions(Math.Max(1, options.CurrentValue.QueueCapacity))
        {
            FullMode = BoundedChannelFullMode.Wait, // with TryWrite: refuses instead of waiting, so the drop is counted
            SingleReader = true,
        });
        _dropped = meters.Create(TelemetryNames.Meter).CreateCounter<long>(ShadowTelemetry.Dropped, description: "Shadow comparisons dropped: queue full");
    }

    internal ChannelReader<ShadowWork> Reader => _channel.Reader;

    /// <summary>Comparisons accepted into the queue since start.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    /// <summary>Comparisons dropped since start because the queue was full.</summary>
    public long Dropped => Interlocked.Read(ref _droppedCount);

    /// <summary>
    /// Samples a read by the phase's rate and enqueues its comparison without waiting. <paramref name="compare"/> runs
    /// later, on the worker; nothing of the request (DbContext, scope) may be captured in it.
    /// </summary>
    public void Offer(TransitionMode mode, Func<IServiceProvider, CancellationToken, Task<ShadowResult>> compare) =>
        Offer(mode, _options.CurrentValue.RateFor(mode.Phase), mode.ReadMachine ? ShadowTelemetry.MachineSide : ShadowTelemetry.LegacySide,
            ShadowTelemetry.SourceShadow, compare);

    /// <summary>Samples a committed dual-write by the write-check rate and enqueues its check without waiting.</summary>
    public void OfferWriteCheck(TransitionMode mode, Func<IServiceProvider, CancellationToken, Task<ShadowResult>> compare) =>
        Offer(mode, mode.WriteLegacy && mode.WriteMachine ? _options.CurrentValue.WriteCheckRate : 0, ShadowTelemetry.LegacySide,
            ShadowTelemetry.SourceWriteCheck, compare);

    private void Offer(TransitionMode mode, double rate, string servedBy, string source, Func<IServiceProvider, CancellationToken, Task<ShadowResult>> compare)
    {
        if (rate <= 0 || (rate < 100 && Random.Shared.NextDouble() * 100 >= rate))
        {
            return;
        }

        var work = new ShadowWork(mode.Phase, servedBy, Activity.Current?.Context ?? default, DateTimeOffset.UtcNow, compare) { Source = source };
        if (_channel.Writer.TryWrite(work))
        {
            Interlocked.Increment(ref _accepted);
        }
        else
        {
            Interlocked.Increment(ref _droppedCount);
            _dropped.Add(1, new KeyValuePair<string, object?>(ShadowTelemetry.PhaseTag, mode.Phase.ToString()),
                new KeyValuePair<string, object?>("fleet.divergence.source", source));
        }
    }
}

/// <summary>Names of the migration's traces and metrics (OpenTelemetry naming), in one place.</summary>
public static class ShadowTelemetry
{
    public const string Dropped = "fleet.migration.shadow.dropped";
    public const string Done = "fleet.migration.shadow.done";
    public const string Duration = "fleet.migration.shadow.duration";
    public const string DivergencesFound = "fleet.migration.divergences.found";

    public const string PhaseTag = "fleet.migration.phase";
    public const string ReadSideTag = "fleet.migration.read_side";
    public const string WriteSideTag = "fleet.migration.write_side";
    public const string LegacySide = "legacy";
    public const string MachineSide = "machine";

    public const string DivergenceEvent = "fleet.migration.divergence";
    public const string SourceShadow = "shadow";
    public const string SourceWriteCheck = "write-check";

    /// <summary>Tags the current request's span with the phase and the side that served it.</summary>
    public static void TagRequest(TransitionMode mode, string tag, string side)
    {
        if (Activity.Current is { } activity)
        {
            activity.SetTag(PhaseTag, mode.Phase.ToString());
            activity.SetTag(tag, side);
        }
    }
}
