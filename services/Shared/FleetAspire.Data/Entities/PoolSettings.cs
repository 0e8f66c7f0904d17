namespace FleetAspire.Data.Entities;

/// <summary>The pool's operator-set target size. One row (id 1); in the database so every pool replica agrees.</summary>
public class PoolSettings
{
    public const int SingletonId = 1;
    public int Id { get; set; } = SingletonId;
    public int TargetSize { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public string? UpdatedBy { get; set; }
}
