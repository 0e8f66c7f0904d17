namespace FleetAspire.Data;

/// <summary>Column sizes that validation in the APIs checks before the database would.</summary>
public static class Limits
{
    public const int NameLength = 100;
    public const int UserIdLength = 128;
    public const int SharedKeyLength = 256;
}
