using FleetAspire.Data.MachineTransition.Phases;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FleetAspire.Migration.Application;

/// <summary>
/// In <c>MachineRead</c>, reads come from Machine; if divergences pile up, reads may be wrong. Above the threshold,
/// the control service flips back to <c>DualWrite</c> by itself (forced past the gates: an emergency), audits why and
/// logs an error. It cannot flap: only divergences first seen since <c>MachineRead</c> was entered count (a re-entry
/// starts from zero), and after a fallback it re-arms only once the count is back at or below <c>RearmAt</c>.
/// </summary>
public sealed partial class AutomaticFallback(PhaseStore phases, NpgsqlDataSource db, IOptions<FallbackOptions> options, ILogger<AutomaticFallback> logger)
    : BackgroundService
{
    public const string Actor = "automatic-fallback";
    private bool _armed = true;
    private long _checks;

    private readonly FleetAspire.Data.Backoff _backoff = new();

    /// <summary>Checks made since start (tests wait on it instead of sleeping).</summary>
    public long Checks => Interlocked.Read(ref _checks);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (options.Value.Enabled && !stoppingToken.IsCancellationRequested)
        {
            var pause = options.Value.CheckInterval;
            try
            {
                await CheckOnceAsync(stoppingToken);
                _backoff.Reset();
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The database away, or data this build did not expect: log, back off, check again; never stop the host.
                LogCheckFailed(logger, ex.GetType().Name);
                pause = _backoff.Next();
            }

            Interlocked.Increment(ref _checks);
            await Task.Delay(pause, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public async Task CheckOnceAsync(CancellationToken cancellationToken)
    {
        var current = await phases.ReadAsync(cancellationToken);
        if (current.Phase != TransitionPhase.MachineRead)
        {
            return;
        }

        var window = options.Value.Window;
        await using var connection = await db.OpenConnectionAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM migration_divergences WHERE resolved_at IS NULL AND first_seen >= greatest(now() - @window, @since)", connection);
        command.Parameters.AddWithValue("window", window);
        command.Parameters.AddWithValue("since", current.Since);
        var count = (long)(await command.ExecuteScalarAsync(cancellationToken))!;
        if (!_armed)
        {
            _armed = count <= options.Value.RearmAt;
            return;
        }

        if (count < options.Value.Threshold)
        {
            return;
        }

        var reason = $"{count} divergences first seen within {window.TotalMinutes:0.#} min in MachineRead (threshold {options.Value.Threshold}): reads fall back to legacy";
        var flipped = await phases.FlipAsync(TransitionPhase.DualWrite, current.Epoch, Actor, reason, forced: true,
            [new GateResult("divergence-threshold", false, reason)], cancellationToken);
        if (flipped is not null)
        {
            _armed = false;
            LogFellBack(logger, count, options.Value.Threshold);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Automatic fallback MachineRead -> DualWrite: {Count} divergences reached the threshold {Threshold}")]
    private static partial void LogFellBack(ILogger logger, long count, int threshold);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Fallback check failed ({ExceptionType}); retrying")]
    private static partial void LogCheckFailed(ILogger logger, string exceptionType);
}
