namespace FleetAspire.Data.MachineTransition.Modes;

/// <summary>The two storages of one aggregate while the migration runs: legacy rows, or Machine only.</summary>
public interface IStorageSides<out TStorage> where TStorage : class
{
    TStorage Legacy { get; }
    TStorage Machine { get; }
}
