namespace FleetAspire.Migration.Application;

public enum FlipOutcome
{
    Flipped,
    /// <summary>A one-way flip without its confirmation, or one that tries to force its gates.</summary>
    NotConfirmed,
    AlreadyThere,
    /// <summary>Refused by its gates (recorded in the history).</summary>
    Refused,
    /// <summary>Another flip committed first.</summary>
    Raced,
}
