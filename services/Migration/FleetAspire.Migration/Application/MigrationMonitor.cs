using FleetAspire.Data;
using System.Diagnostics.Metrics;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Phases;
using FleetAspire.Data.MachineTransition.Verification;
using FleetAspire.Names;
using Npgsql;

namespace FleetAspire.Migration.Application;

/// <summary>
/// Publishes the migration's state as metrics the dashboard charts (backfill progress while it runs, open
/// divergences by kind) and runs the scheduled incremental verification. Gauges read a sample taken here, never the
/// database inside a metrics callback; every replica samples the same shared state.
/// </summary>
public sealed partial class MigrationMonitor : BackgroundService
{
    private readonly MachineBackfill _backfill;
    private readonly MachineVerifier _verifier;
    private readonly VerificationScheduleOptions _options;
    private readonly ILogger<MigrationMonitor> _logger;
    private readonly PhaseStore _phases;
    private readonly NpgsqlDataSource _db;
    private readonly DirtyRows _dirty;
    private readonly FleetAspire.Data.Backoff _backoff = new();
    private volatile Sample _sample = new(BackfillProgress.NotStarted, [], null);

    private sealed record Sample(BackfillProgress Backfill, IReadOnlyList<(string Kind, string Field, string Source, long Count)> Open, PhaseState? Phase);

    public MigrationMonitor(MachineBackfill backfill, MachineVerifier verifier, PhaseStore phases, NpgsqlDataSource db, DirtyRows dirty,
        IMeterFactory meters, Microsoft.Extensions.Options.IOptions<VerificationScheduleOptions> options, ILogger<MigrationMonitor> logger)
    {
        (_backfill, _verifier, _phases, _db, _dirty, _options, _logger) = (backfill, verifier, phases, db, dirty, options.Value, logger);
        var meter = meters.Create(TelemetryNames.Meter);
        meter.CreateObservableGauge("fleet.migration.backfill.rows", () => new Measurement<long>[]
        {
            new(_sample.Backfill.RowsDone, new KeyValuePair<string, object?>("fleet.backfill.count", "done")),
            new(_sample.Backfill.RowsTotal, new KeyValuePair<string, object?>("fleet.backfill.count", "total")),
        }, unit: "{row}", description: "Legacy rows the backfill has copied, and how many there were when it started.");
        meter.CreateObservableGauge("fleet.migration.backfill.progress",
            () => _sample.Backfill.RowsTotal == 0 ? 0d : Math.Min(1d, (double)_sample.Backfill.RowsDone / _sample.Backfill.RowsTotal),
            unit: "1", description: "Share of the backfill's copy pass done (the catch-up follows).");
        meter.CreateObservableGauge("fleet.migration.backfill.running",
            () => _sample.Backfill.State == BackfillStates.Running ? 1 : 0, unit: "1", description: "1 while a backfill runs.");
        meter.CreateObservableGauge("fleet.migration.divergences.open",
            () => _sample.Open.Select(o => new Measurement<long>(o.Count,
                new KeyValuePair<string, object?>("fleet.divergence.kind", o.Kind),
                new KeyValuePair<string, object?>("fleet.divergence.field", o.Field),
                new KeyValuePair<string, object?>("fleet.divergence.source", o.Source))),
            unit: "{divergence}", description: "Open divergences between the legacy fields and Machine, by kind, field and source.");
        meter.CreateObservableGauge("fleet.migration.phase",
            () => _sample.Phase is { } p
                ? [new Measurement<int>((int)p.Phase, new KeyValuePair<string, object?>("fleet.migration.phase", p.Phase.ToString()))]
                : Array.Empty<Measurement<int>>(),
            unit: "1", description: "The stored phase: 0 Legacy, 1 DualWrite, 2 MachineRead, 3 MachineOnly.");
        meter.CreateObservableGauge("fleet.migration.epoch",
            () => _sample.Phase is { } p ? [new Measurement<long>(p.Epoch)] : Array.Empty<Measurement<long>>(),
            unit: "1", description: "The stored phase's epoch: every flip increments it.");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var nextVerification = DateTimeOffset.UtcNow + _options.IncrementalInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var phase = await _phases.ReadAsync(stoppingToken);
                if (_options.IncrementalInterval > TimeSpan.Zero && DateTimeOffset.UtcNow >= nextVerification)
                {
                    nextVerification = DateTimeOffset.UtcNow + _options.IncrementalInterval;
                    // Only while both models are written (ControlOperations); before a first full run there is no baseline.
                    if (ControlOperations.RefusalIn(ControlOperations.Verify, phase.Phase) is null && await _verifier.LastAsync(stoppingToken) is not null)
                    {
                        var summary = await _verifier.VerifyIncrementalAsync(stoppingToken);
                        LogIncremental(_logger, summary.ChangesChecked, summary.Open);
                    }
                }

                if (phase.Phase != TransitionPhase.Contracted)
                {
                    // A report on a row that no longer exists has nothing left to judge.
                    await _dirty.CloseGoneAsync(stoppingToken);
                }

                _sample = new Sample(await _backfill.ProgressAsync(stoppingToken), await OpenAsync(stoppingToken), phase);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The database is away, or holds what this build did not expect: the gauges keep their last sample and
                // a later tick tries again; the host keeps serving.
                LogSampleFailed(_logger, ex.GetType().Name);
                await Task.Delay(_backoff.Next(), stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                continue;
            }

            _backoff.Reset();
            await Task.Delay(_options.SampleInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task<IReadOnlyList<(string, string, string, long)>> OpenAsync(CancellationToken cancellationToken)
    {
        var open = new List<(string, string, string, long)>();
        await using var connection = await _db.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT kind, field, source, count(*) AS open FROM migration_divergences WHERE resolved_at IS NULL GROUP BY kind, field, source", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            open.Add((reader.Get<string>("kind"), reader.Get<string>("field"), reader.Get<string>("source"), reader.Get<long>("open")));
        }

        return open;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Incremental verification checked {Changes} changes; {Open} divergences open")]
    private static partial void LogIncremental(ILogger logger, long changes, long open);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Migration sample failed ({ExceptionType}); retrying")]
    private static partial void LogSampleFailed(ILogger logger, string exceptionType);
}
