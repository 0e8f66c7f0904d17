namespace FleetAspire.Machines.Application;

public sealed class HealthCheckOptions
{
    public const string Section = "HealthChecks";

    /// <summary>Consecutive failed checks (reported unhealthy or missed) that make a machine unhealthy.</summary>
    public int FailureThreshold { get; set; } = Data.Assignments.MachineHealth.DefaultThreshold;
    /// <summary>A machine that has not sent a heartbeat for this long gets a <c>missed</c> check.</summary>
    public TimeSpan HeartbeatTimeout { get; set; } = TimeSpan.FromSeconds(60);
    public bool SweeperEnabled { get; set; } = true;
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>Heartbeats signed further than this from the server's clock are refused (replay window).</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>Checks older than this are pruned.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);
    public TimeSpan PruneInterval { get; set; } = TimeSpan.FromHours(1);
    public int PruneBatchSize { get; set; } = 5000;
    /// <summary>Pause between prune batches, so retention never competes with live traffic for long.</summary>
    public TimeSpan PruneBatchPause { get; set; } = TimeSpan.FromMilliseconds(100);
}
