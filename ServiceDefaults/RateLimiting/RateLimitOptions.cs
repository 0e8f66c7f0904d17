namespace FleetAspire.ServiceDefaults.RateLimiting;

/// <summary>Limits every service applies (section <c>RateLimits</c>; the AppHost forwards it).</summary>
public sealed class RateLimitOptions
{
    public const string Section = "RateLimits";

    /// <summary>Requests a user may make per second, sustained (token bucket refill).</summary>
    public int PerUserPerSecond { get; set; } = 100;

    /// <summary>Requests a user may make at once after a quiet spell (the bucket's size).</summary>
    public int PerUserBurst { get; set; } = 200;

    /// <summary>Heartbeats one machine may send per minute (a healthy agent sends one every 10–30 s).</summary>
    public int HeartbeatsPerMachinePerMinute { get; set; } = 30;

    /// <summary>The largest request body any route accepts: every API body is a few hundred bytes.</summary>
    public long MaxRequestBodyBytes { get; set; } = 16 * 1024;
}
