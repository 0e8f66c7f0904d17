namespace FleetAspire.Data.Entities;

public static class HealthOutcome
{
    public const string Healthy = "healthy";
    /// <summary>The machine reported itself unhealthy.</summary>
    public const string Unhealthy = "unhealthy";
    /// <summary>No heartbeat arrived in time: recorded by the sweeper, counts as a failure.</summary>
    public const string Missed = "missed";

    public static bool IsFailure(string outcome) => outcome != Healthy;
}
