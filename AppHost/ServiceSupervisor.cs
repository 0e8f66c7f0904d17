using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FleetAspire.AppHost;

/// <summary>Marks a resource the AppHost starts again when its process dies (<see cref="ServiceSupervisor"/>).</summary>
internal sealed class SupervisedAnnotation : IResourceAnnotation;

/// <summary>
/// Aspire does not restart a process that dies: a SIGKILLed or crashed service stays down until someone presses Start.
/// This supervisor watches every supervised resource and starts it again after an unexpected exit — with a growing
/// pause between attempts (1 s doubling to 30 s, reset after a minute of running) so a service that cannot start does
/// not spin. An exit an operator asked for (the dashboard's Stop, exit code 0) and the AppHost's own shutdown are left
/// alone (docs/adr/0017).
/// </summary>
internal sealed partial class ServiceSupervisor(
    ResourceNotificationService notifications,
    ResourceCommandService commands,
    DistributedApplicationModel model,
    IHostApplicationLifetime lifetime,
    ILogger<ServiceSupervisor> logger) : BackgroundService
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxPause = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan HealthyResetsBackoff = TimeSpan.FromMinutes(1);
    private static readonly HashSet<string> Down = [KnownResourceStates.Exited, KnownResourceStates.Finished, KnownResourceStates.FailedToStart];

    private readonly ConcurrentDictionary<string, Supervised> _state = new();

    private sealed class Supervised
    {
        public bool WasRunning;
        public bool Restarting;
        public TimeSpan Pause = FirstPause;
        public DateTimeOffset RunningSince;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var supervised = model.Resources.Where(r => r.Annotations.OfType<SupervisedAnnotation>().Any()).Select(r => r.Name).ToHashSet();
        try
        {
            await foreach (var update in notifications.WatchAsync(stoppingToken))
            {
                if (!supervised.Contains(update.Resource.Name))
                {
                    continue;
                }

                var state = _state.GetOrAdd(update.Resource.Name, _ => new Supervised());
                var text = update.Snapshot.State?.Text;
                if (text == KnownResourceStates.Running)
                {
                    if (!state.WasRunning)
                    {
                        state.RunningSince = DateTimeOffset.UtcNow;
                    }

                    state.WasRunning = true;
                }
                else if (text is not null && Down.Contains(text) && state.WasRunning && !state.Restarting
                         && update.Snapshot.ExitCode is not 0 && !lifetime.ApplicationStopping.IsCancellationRequested)
                {
                    state.WasRunning = false;
                    state.Restarting = true;
                    if (DateTimeOffset.UtcNow - state.RunningSince > HealthyResetsBackoff)
                    {
                        state.Pause = FirstPause;
                    }

                    _ = RestartAsync(update.Resource, update.Snapshot.ExitCode, state, stoppingToken);
                }
                else if (text is not null && Down.Contains(text))
                {
                    state.WasRunning = false;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RestartAsync(IResource resource, int? exitCode, Supervised state, CancellationToken stoppingToken)
    {
        try
        {
            var pause = state.Pause;
            state.Pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, MaxPause.Ticks));
            LogRestarting(logger, resource.Name, exitCode, pause.TotalSeconds);
            await Task.Delay(pause, stoppingToken);
            if (lifetime.ApplicationStopping.IsCancellationRequested)
            {
                return;
            }

            var result = await commands.ExecuteCommandAsync(resource, KnownResourceCommands.StartCommand, stoppingToken);
            if (!result.Success)
            {
                LogRestartFailed(logger, resource.Name, result.Message ?? "unknown error");
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // A failed attempt must not stop supervision of the others; the next exit tries again.
            LogRestartFailed(logger, resource.Name, ex.Message);
        }
        finally
        {
            state.Restarting = false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Resource} exited unexpectedly (exit code {ExitCode}); starting it again in {PauseSeconds} s")]
    private static partial void LogRestarting(ILogger logger, string resource, int? exitCode, double pauseSeconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Starting {Resource} again failed: {Error}")]
    private static partial void LogRestartFailed(ILogger logger, string resource, string error);
}

internal static class ServiceSupervisorExtensions
{
    public static IDistributedApplicationBuilder AddServiceSupervisor(this IDistributedApplicationBuilder builder)
    {
        builder.Services.AddHostedService<ServiceSupervisor>();
        return builder;
    }
}
