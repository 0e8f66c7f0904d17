namespace FleetAspire.Data.Entities;

public static class AgentStatus
{
    /// <summary>No machine attached.</summary>
    public const string Idle = "idle";
    /// <summary>Running on a machine.</summary>
    public const string Active = "active";
    /// <summary>Running on a machine that has failed its last health checks.</summary>
    public const string Unhealthy = "unhealthy";
    /// <summary>Deletion requested; waiting for the final snapshot before the machine is released.</summary>
    public const string Deleting = "deleting";
}
