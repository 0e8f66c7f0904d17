namespace FleetAspire.Pool.Application;

public sealed class PoolOptions
{
    public const string Section = "Pool";

    /// <summary>Off in tests that need a pool that does not change under them.</summary>
    public bool ReconcilerEnabled { get; set; } = true;
    public TimeSpan ReconcileInterval { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>Bounds the provider calls of one pass, so one pass cannot hold the pool lock for long.</summary>
    public int MaxProvisionPerPass { get; set; } = 10;
    /// <summary>A row still without a provider id after this long lost its create call (crash) and is removed.</summary>
    public TimeSpan StaleProvisionAfter { get; set; } = TimeSpan.FromMinutes(5);
    public const int MaxTargetSize = 1000;
}
