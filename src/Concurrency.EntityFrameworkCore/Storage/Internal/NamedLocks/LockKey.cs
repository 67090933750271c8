using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Concurrency.EntityFrameworkCore.Storage.Internal.NamedLocks;

/// <summary>
///     The 64-bit key of a lock: the first 8 bytes of the SHA-256 of the text's UTF-16 code units (every string, lone
///     surrogates and <c>\0</c> included, hashes exactly; no encoding step can map two names to the same bytes). Used for
///     PostgreSQL advisory locks (<c>pg_advisory_lock(bigint)</c>) and for the names of SQLite lock files.
/// </summary>
/// <remarks>
///     Two different texts share a key with probability 2^-64 per pair: for n names in use about n^2 / 2^65, so 10,000
///     names collide with probability ~2.7e-12 and a million with ~2.7e-8. A collision never breaks mutual exclusion; it
///     only makes two unrelated locks wait for each other.
/// </remarks>
internal static class LockKey
{
    public static long Of(string text)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(MemoryMarshal.AsBytes(text.AsSpan()), hash);
        return BinaryPrimitives.ReadInt64LittleEndian(hash);
    }

    /// <summary>The key as 16 hexadecimal digits (a file name that is the same on every machine).</summary>
    public static string ToHex(long key)
        => key.ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>How <c>pg_locks</c> shows a bigint advisory key: the high half in <c>classid</c>, the low half in <c>objid</c>.</summary>
    public static (long ClassId, long ObjId) PgLocksColumns(long key)
        => ((long)((ulong)key >> 32), key & 0xFFFFFFFFL);
}
