using System.Data.Common;

namespace FleetAspire.Data;

/// <summary>
/// Reading a row by column name, for statements written in SQL: a column added to or moved in the SELECT cannot shift
/// what a reader takes from the positions after it.
/// </summary>
public static class NamedColumns
{
    public static T Get<T>(this DbDataReader reader, string column) => reader.GetFieldValue<T>(reader.GetOrdinal(column));

    public static T? GetOrNull<T>(this DbDataReader reader, string column) where T : struct
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? null : reader.GetFieldValue<T>(ordinal);
    }

    public static string? GetStringOrNull(this DbDataReader reader, string column)
    {
        var ordinal = reader.GetOrdinal(column);
        return reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
    }
}
