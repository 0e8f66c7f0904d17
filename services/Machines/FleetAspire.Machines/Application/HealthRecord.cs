namespace FleetAspire.Machines.Application;

public enum HealthRecord
{
    Recorded,
    /// <summary>The agent no longer holds the machine: nothing written.</summary>
    NotHeld,
    /// <summary>The heartbeat's signed time is not later than the last accepted one: nothing written.</summary>
    Replayed,
}
