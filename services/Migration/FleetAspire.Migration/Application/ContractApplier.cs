using FleetAspire.Data.MachineTransition.Contract;
using FleetAspire.Data.MachineTransition.Phases;
using Microsoft.Extensions.Options;

namespace FleetAspire.Migration.Application;

/// <summary>
/// Applies the contract set once the fleet is Contracted: after every live instance has acknowledged that epoch (each
/// then builds only steady-state contexts — it has since MachineOnly — and none still runs a flip-time plan), step by
/// step through <see cref="ContractRunner"/>. Stopped anywhere, the next control service resumes at the first owed step.
/// </summary>
public sealed partial class ContractApplier(PhaseStore phases, ContractRunner runner, IOptions<ContractOptions> options, ILogger<ContractApplier> logger)
    : BackgroundService
{
    private long _drainedEpoch;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var current = await phases.ReadAsync(stoppingToken);
                if (current.Phase == TransitionPhase.Contracted
                    && (await runner.StatusAsync(stoppingToken)).Any(s => s.FinishedAt is null))
                {
                    var behind = (await phases.LiveInstancesAsync(stoppingToken)).Where(i => i.Epoch != current.Epoch).ToList();
                    if (behind.Count == 0)
                    {
                        if (_drainedEpoch != current.Epoch)
                        {
                            await Task.Delay(options.Value.Drain, stoppingToken);
                            _drainedEpoch = current.Epoch;
                            continue;
                        }

                        foreach (var step in await runner.ApplyOwedAsync(options.Value.PauseBetweenSteps, stoppingToken))
                        {
                            LogApplied(step);
                        }
                    }
                    else
                    {
                        LogWaiting(behind.Count, current.Epoch);
                    }
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // The database may be away (a restart, a failover): the steps are recorded, so trying again is safe.
                LogFailed(ex);
            }

            await Task.Delay(options.Value.PollInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Contract step {Step} applied")]
    private partial void LogApplied(string step);

    [LoggerMessage(Level = LogLevel.Information, Message = "Contract waits for {Count} live instance(s) to acknowledge epoch {Epoch}")]
    private partial void LogWaiting(int count, long epoch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Contract step failed; retrying")]
    private partial void LogFailed(Exception exception);
}
