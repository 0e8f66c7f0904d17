namespace FleetAspire.Migration.Application;

public sealed class FallbackOptions
{
    public const string Section = "Fallback";

    public bool Enabled { get; set; } = true;

    /// <summary>Divergences first seen within <see cref="Window"/> (and since MachineRead was entered) that trigger a fallback.</summary>
    public int Threshold { get; set; } = 10;

    /// <summary>After a fallback, another can trigger only once the count has been at or below this (hysteresis).</summary>
    public int RearmAt { get; set; } = 2;

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(5);

    public TimeSpan CheckInterval { get; set; } = TimeSpan.FromSeconds(5);
}
