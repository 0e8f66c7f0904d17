namespace FleetAspire.Lifecycle.Tests;

/// <summary>
/// Lifecycle tests stop and start the shared broker and kill processes: they run one at a time, never beside each
/// other.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LifecycleCollection
{
    public const string Name = "lifecycle";
}
