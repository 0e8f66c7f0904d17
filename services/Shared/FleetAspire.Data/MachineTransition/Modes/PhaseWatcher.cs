using FleetAspire.Data.MachineTransition.Phases;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>
/// Keeps <see cref="PhaseCache"/> current and this instance registered (service, instance id, build, epoch) with a
/// TTL. The first read happens before the service starts serving: an instance never runs without knowing the phase.
/// </summary>
public sealed partial class PhaseWatcher(
    PhaseStore store, PhaseCache cache, InstanceRegistration instance, IOptions<TransitionOptions> options, IHostEnvironment environment,
    IHostApplicationLifetime lifetime, TransitionUsage usage, ILogger<PhaseWatcher> logger) : BackgroundService
{
    private readonly Backoff _backoff = new();
    private bool _ready;
    private long _acknowledged;

    /// <summary>
    /// Before the service serves: the pin checked (or seeded) and the phase read. With the database unreachable the
    /// service still starts — every request answers 503 until it is back — and this happens at the first contact.
    /// </summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await BecomeReadyAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not PhasePinRefusedException && Backoff.IsIterationFailure(ex, cancellationToken))
        {
            // The database away, or a phase this build cannot read: start anyway, and keep trying in the background.
            LogReadFailed(logger, ex.GetType().Name);
        }

        await base.StartAsync(cancellationToken);
    }

    private async Task BecomeReadyAsync(CancellationToken cancellationToken)
    {
        if (options.Value.PinnedPhase is { } pin)
        {
            if (!environment.IsDevelopment())
            {
                throw new PhasePinRefusedException($"{TransitionOptions.Section}:PinnedPhase is for local development only; remove it.");
            }

            if (!await store.SeedOrMatchPinAsync(pin, $"{instance.Service}/{instance.InstanceId} (pin)", cancellationToken))
            {
                var stored = await store.ReadAsync(cancellationToken);
                throw new PhasePinRefusedException(
                    $"This instance is pinned to {pin} but the fleet runs {stored.Phase} (epoch {stored.Epoch}); refusing to start.");
            }
        }

        cache.Update(await store.ReadAsync(cancellationToken));
        await store.HeartbeatAsync(instance, cache.Current.Epoch, options.Value.InstanceTtl, cancellationToken, usage);
        _acknowledged = cache.Current.Epoch;
        LogStarted(logger, instance.Service, cache.Current.Phase.ToString(), cache.Current.Epoch);
        _ready = true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var nextHeartbeat = DateTimeOffset.UtcNow + options.Value.HeartbeatInterval;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!_ready)
                {
                    // Started while the database was away. A pin that turns out wrong stops the host here.
                    try
                    {
                        await BecomeReadyAsync(stoppingToken);
                    }
                    catch (PhasePinRefusedException ex)
                    {
                        LogRefused(logger, ex.Message);
                        lifetime.StopApplication();
                        return;
                    }

                    continue;
                }

                cache.Update(await store.ReadAsync(stoppingToken));
                var now = cache.Current;
                // Acknowledge a new epoch at once (a write may have moved the cache already, so compare with what was
                // last acknowledged, not with the cache); otherwise heartbeat at the usual pace.
                var newEpoch = now.Epoch != _acknowledged;
                if (newEpoch || DateTimeOffset.UtcNow >= nextHeartbeat)
                {
                    await store.HeartbeatAsync(instance, now.Epoch, options.Value.InstanceTtl, stoppingToken, usage);
                    nextHeartbeat = DateTimeOffset.UtcNow + options.Value.HeartbeatInterval;
                    _acknowledged = now.Epoch;
                    if (newEpoch)
                    {
                        LogFollowed(logger, now.Phase.ToString(), now.Epoch);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (Backoff.IsIterationFailure(ex, stoppingToken))
            {
                // The database is away (writes fail on their own: 503), or the stored phase is one this build cannot
                // read: the phase is re-read after a pause; the host keeps serving.
                LogReadFailed(logger, ex.GetType().Name);
                await Task.Delay(_backoff.Next(), stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                continue;
            }

            _backoff.Reset();
            await WaitForFlipAsync(stoppingToken);
        }

        if (_listener is not null)
        {
            await _listener.DisposeAsync();
        }
    }

    private NpgsqlConnection? _listener;

    /// <summary>Until a flip is notified or the poll interval passes (the poll covers a lost notification).</summary>
    private async Task WaitForFlipAsync(CancellationToken stoppingToken)
    {
        try
        {
            _listener ??= await store.ListenAsync(stoppingToken);
            await _listener.WaitAsync(options.Value.PollInterval, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (Backoff.IsIterationFailure(ex, stoppingToken))
        {
            // The listening connection broke: poll until a new one can be opened.
            if (_listener is not null)
            {
                await _listener.DisposeAsync();
                _listener = null;
            }

            await Task.Delay(options.Value.PollInterval, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            await store.DeregisterAsync(instance.InstanceId, cancellationToken);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or OperationCanceledException)
        {
            // Its TTL removes it instead.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Service} runs migration phase {Phase} (epoch {Epoch})")]
    private static partial void LogStarted(ILogger logger, string service, string phase, long epoch);

    [LoggerMessage(Level = LogLevel.Information, Message = "Following migration phase {Phase} (epoch {Epoch})")]
    private static partial void LogFollowed(ILogger logger, string phase, long epoch);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Stopping: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reading the migration phase failed ({ExceptionType}); retrying")]
    private static partial void LogReadFailed(ILogger logger, string exceptionType);
}

/// <summary>This instance's phase pin contradicts the fleet: it must not start (local development only).</summary>
public sealed class PhasePinRefusedException(string message) : InvalidOperationException(message);
