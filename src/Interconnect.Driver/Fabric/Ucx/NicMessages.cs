using System.Runtime.InteropServices;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// The emulated NIC's messages: UCX active messages between a writing process and the target machine's agent
/// (<c>imcd</c>), which validates each write and applies it into receive memory it published. Over transports whose
/// RMA UCX emulates (tcp), a put would be applied at whatever address it names, with no key or range check, in
/// fragments that tear words (reference/ucx-facts.md); a message is checked first and applied whole.
/// </summary>
/// <remarks>
/// <para><b>Sequences.</b> A writer numbers what it sends to one machine per logical rail, from 1, with no gap: a write
/// it could not send (the connection is broken or not yet back) still takes its number. The target remembers the last
/// number it saw per writer and rail; a number past the next one means writes were lost, and the target raises its
/// error count of that rail before it applies the write that showed it, so a reader never sees a later write without
/// the count having moved. A <see cref="Flush"/> tells the target the last number sent on every rail: it raises for
/// whatever did not arrive, then answers <see cref="Flushed"/>, which is how a writer knows its writes landed.</para>
/// <para><b>Memory.</b> A write names a receive memory by the id its agent published with it (a new id per
/// registration, never reused by that agent, with a random high half per agent start), so a write routed to memory
/// that was withdrawn, or published by an earlier run of the agent, is refused, never applied to what is there now;
/// the target answers <see cref="Refused"/> and the writer counts it on its own rail.</para>
/// <para><b>Epochs.</b> A write carries the epoch its writer's machine was in when the writer opened the cluster. The
/// target refuses one whose epoch it saw end (the machine was fenced, left, or joined again under a new epoch): what a
/// machine's processes wrote after the cluster took the machine for dead lands nowhere, even when the network
/// delivers it late. The writer sends nothing once its own machine is fenced or in a new epoch.</para>
/// <para><b>Reads.</b> The first copy of a coherent region on a machine is read from a copy on another machine with a
/// <see cref="Read"/>, which that machine's agent checks as it checks a write (memory published now, within bounds,
/// current epoch) and answers with <see cref="ReadData"/>: the bytes, copied out of the memory as they are then, or a
/// refusal. No remote operation names an address in receive memory, so the agent unmaps withdrawn memory at once.</para>
/// <para><b>Lock words.</b> The words of a machine's lock arena are changed and read only with <see cref="Words"/>
/// messages that the machine's agent applies (a compare-and-swap, a read, a write of words), on its progress thread,
/// so every process of the cluster, on that machine too, shares one atomicity domain; the answer is a
/// <see cref="ReadData"/> (the old word, the words read, or nothing). The agent refuses an operation of an ended
/// epoch: a machine the cluster took for dead can no longer take, hold or free a lock where the lock lives, whatever
/// the network delivers late (the fencing token is checked where the word is, as a receiver checks a write's).
/// No remote operation names an address in a machine's memory: nothing is registered for UCX's one-sided
/// operations, whose software emulation over tcp would apply them at any address with no key check.</para>
/// <para><b>The cluster key.</b> Every connection begins with a <see cref="Hello"/> that carries the cluster's key (32
/// random bytes made with the cluster, kept in the directory, handed by each machine's agent to its own registered
/// processes only). The target's agent takes a connection for the cluster's only once its hello presented that key,
/// and applies nothing from any other: no write, no read's bytes, no lock-word operation, no flush's answer. The key
/// is checked once per connection, not per message: the target knows a connection by the endpoint UCX hands its
/// handlers as the way back (the reply endpoint) together with the writer id the hello named, which every message
/// carries (UCX reuses the handle of a connection that ended, unannounced: <see cref="NicReceiver"/>).</para>
/// <para>All fields are little-endian, as this machine kind is.</para>
/// </remarks>
internal static class NicMessages
{
    /// <summary>A write: <see cref="WriteHeader"/>, then the bytes.</summary>
    public const uint Write = 1;

    /// <summary>A flush: <see cref="FlushHeader"/>, then one ulong per rail.</summary>
    public const uint Flush = 2;

    /// <summary>The target's answer to a flush: <see cref="FlushedHeader"/>.</summary>
    public const uint Flushed = 3;

    /// <summary>The target refused a write: <see cref="RefusedHeader"/>.</summary>
    public const uint Refused = 4;

    /// <summary>A read of published memory: <see cref="ReadHeader"/>, no data.</summary>
    public const uint Read = 5;

    /// <summary>The answer to a read: <see cref="ReadDataHeader"/>, then the bytes read (none when refused).</summary>
    public const uint ReadData = 6;

    /// <summary>An operation on lock words: <see cref="WordsHeader"/>, then the words to write (a write only).</summary>
    public const uint Words = 7;

    /// <summary>
    /// The first message of every connection: <see cref="HelloHeader"/> (the cluster key), then one ulong per rail (how
    /// far the sequences went, as a flush says, with no answer).
    /// </summary>
    public const uint Hello = 8;

    /// <summary>The cluster key's length in bytes.</summary>
    public const int KeyLength = 32;

    /// <summary>Refuses a cluster key of another length than <see cref="KeyLength"/> (a caller's mistake, not a peer's).</summary>
    public static void CheckKey(ReadOnlySpan<byte> key, string name)
    {
        if (key.Length != KeyLength)
        {
            throw new ArgumentException($"a cluster key is {KeyLength} bytes, not {key.Length}", name);
        }
    }

    /// <summary>The most words one <see cref="Words"/> message reads or writes (a lock set's most locks).</summary>
    public const int MaxWords = Store.ControlFileDirectory.MaxLocksPerSet;

    /// <summary>The largest write one message carries: a longer one goes as several, split at this word multiple.</summary>
    public const int MaxPayload = 256 * 1024;

    /// <summary>Logical rails a sequence is kept for (ControlLayout.MaxLogicalRails).</summary>
    public const int Rails = Store.Layout.ControlLayout.MaxLogicalRails;

    [StructLayout(LayoutKind.Sequential, Pack = 8)]
    public struct WriteHeader
    {
        public ulong Writer;
        public ulong Sequence;
        public ulong Memory;
        public ulong Offset;

        /// <summary>The writer's machine's epoch when the writer opened the cluster (<see cref="Store.MachineStanding"/>).</summary>
        public long Epoch;
        public int Rail;
        private readonly int _reserved;
    }

    [StructLayout(LayoutKind.Sequential, Pack = 8)]
    public struct FlushHeader
    {
        public ulong Writer;

        /// <summary>What the answer carries back; 0 asks for no answer.</summary>
        public ulong Token;
    }

    [StructLayout(LayoutKind.Sequential, Pack = 8)]
    public unsafe struct HelloHeader
    {
        /// <summary>The sender's writer id, which every later message of the connection carries.</summary>
        public ulong Writer;

        /// <summary>The cluster key (<see cref="KeyLength"/> bytes).</summary>
        public fixed byte Key[KeyLength];
    }

    [StructLayout(LayoutKind.Sequential, Pack = 8)]
    public struct FlushedHeader
    {
        public ulong Token;
    }

    [StructLayout(LayoutKind.Sequential, Pack = 8)]
    public struct RefusedHeader
    {
        public ulong Memory;
        public int Rail;
        public int Reason;
    }

    [StructLayout(LayoutKind.Sequential, Pack = 8)]
    public struct ReadHeader
    {
        /// <summary>What the answer carries back.</summary>
        public ulong Token;

        /// <summary>The reader's writer id: the connection's, as its hello named it.</summary>
        public ulong Writer;
        public ulong Memory;
        public ulong Offset;

        /// <summary>At most <see cref="MaxPayload"/>.</summary>
        public ulong Length;

        /// <summary>The reader's machine's epoch, as a write's.</summary>
        public long Epoch;
    }

    [StructLayout(LayoutKind.Sequential, Pack = 8)]
    public struct ReadDataHeader
    {
        public ulong Token;

        /// <summary>0: the bytes follow; otherwise the <see cref="Refusal"/> and no bytes.</summary>
        public int Refusal;
        private readonly int _reserved;
    }

    /// <summary>What a <see cref="Words"/> message does.</summary>
    public enum WordOp
    {
        /// <summary>Word Index becomes Desired if it holds Expected; the answer carries what it held.</summary>
        CompareAndSwap = 1,

        /// <summary>The answer carries Count words from Index, each whole.</summary>
        Read = 2,

        /// <summary>The message's Count words are stored from Index, each whole; the answer carries nothing.</summary>
        Write = 3,
    }

    [StructLayout(LayoutKind.Sequential, Pack = 8)]
    public struct WordsHeader
    {
        /// <summary>What the answer carries back.</summary>
        public ulong Token;

        /// <summary>The asking process's writer id: the connection's, as its hello named it.</summary>
        public ulong Writer;

        /// <summary>The asking process's machine's epoch, as a write's.</summary>
        public long Epoch;
        public long Expected;
        public long Desired;
        public int Index;
        public int Count;
        public int Op;
        private readonly int _reserved;
    }

    /// <summary>Why a write (or a read) was refused.</summary>
    public enum Refusal
    {
        /// <summary>The memory it names is not published by this agent (withdrawn, or never was).</summary>
        UnknownMemory = 1,

        /// <summary>It does not fit inside the memory.</summary>
        OutOfBounds = 2,

        /// <summary>Its rail is not the memory's, or no rail of this cluster.</summary>
        WrongRail = 3,

        /// <summary>Its sequence number was seen already (a message of a connection that was replaced).</summary>
        Stale = 4,

        /// <summary>Its writer's machine epoch has ended (the machine was fenced, left, or joined again since).</summary>
        StaleEpoch = 5,

        /// <summary>Its connection has not presented the cluster key (no hello, or a hello with another key).</summary>
        Unauthenticated = 6,
    }
}
