using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Interconnect.Driver.Directory.Etcd;
using Interconnect.Driver.Fabric.Ucx;
using Native = Interconnect.Driver.Interop.Ucx;

namespace Interconnect.TestPeer;

/// <summary>
/// A stranger to the cluster on the emulated NIC (<c>ucx-stranger</c>): a process that never asked its imcd for the
/// cluster key (it holds no registration) reads where a machine's NIC is and which memory it publishes (etcd's keys are
/// not restricted yet), connects with raw UCX and sends the protocol's messages, well formed: a write, a read, a
/// compare-and-swap and a write of lock words, a flush; with no hello, or with a hello of a random key. It reports
/// what came back: a NIC that applied or answered them would send bytes or a flush's answer.
/// </summary>
internal static unsafe class UcxStranger
{
    private static long s_answers;
    private static long s_bytes;
    private static long s_flushed;

    public static string Run(string hello, string machine, int regionKey, string host)
    {
        var endpoints = Environment.GetEnvironmentVariable("IMC_DIRECTORY")
            ?? throw new InvalidOperationException("ucx-stranger needs IMC_DIRECTORY");
        using var store = new EtcdStore(endpoints, Environment.GetEnvironmentVariable("IMC_CLUSTER") ?? "default");
        var target = EtcdJson.Read<MachineRecord>(store.Get(EtcdKeys.Machine(machine))
            ?? throw new InvalidOperationException($"no machine {machine}"));
        var memory = EtcdJson.Read<MemoryRecord>(store.Get(EtcdKeys.Memory(regionKey, host))
            ?? throw new InvalidOperationException($"no memory of region {regionKey} for {host}"));

        using var context = UcxContext.Create(UcxOperations.Messages);
        using var worker = context.CreateWorker();
        worker.SetMessageHandler(NicMessages.Flushed, &OnAnswer, (nint)NicMessages.Flushed);
        worker.SetMessageHandler(NicMessages.Refused, &OnAnswer, (nint)NicMessages.Refused);
        worker.SetMessageHandler(NicMessages.ReadData, &OnAnswer, (nint)NicMessages.ReadData);
        using var endpoint = worker.Connect(Convert.FromBase64String(target.Worker), $"machine '{machine}'");
        const ulong writer = 0x5757;
        if (hello == "wrong")
        {
            var header = new NicMessages.HelloHeader { Writer = writer };
            RandomNumberGenerator.Fill(new Span<byte>(header.Key, NicMessages.KeyLength));
            endpoint.Send(NicMessages.Hello, new ReadOnlySpan<byte>(&header, sizeof(NicMessages.HelloHeader)), new byte[8]);
        }

        var write = new NicMessages.WriteHeader { Writer = writer, Sequence = 1, Memory = memory.Id, Offset = 0, Rail = memory.Rail };
        endpoint.Send(NicMessages.Write, new ReadOnlySpan<byte>(&write, sizeof(NicMessages.WriteHeader)),
            BitConverter.GetBytes(0x5555_5555_5555_5555));
        var read = new NicMessages.ReadHeader { Token = 1, Writer = writer, Memory = memory.Id, Offset = 0, Length = (ulong)memory.Length };
        endpoint.Send(NicMessages.Read, new ReadOnlySpan<byte>(&read, sizeof(NicMessages.ReadHeader)), []);
        var cas = new NicMessages.WordsHeader { Token = 2, Writer = writer, Index = 0, Count = 1, Expected = 0, Desired = 0x5555, Op = (int)NicMessages.WordOp.CompareAndSwap };
        endpoint.Send(NicMessages.Words, new ReadOnlySpan<byte>(&cas, sizeof(NicMessages.WordsHeader)), []);
        var words = new NicMessages.WordsHeader { Token = 3, Writer = writer, Index = 1, Count = 1, Op = (int)NicMessages.WordOp.Write };
        endpoint.Send(NicMessages.Words, new ReadOnlySpan<byte>(&words, sizeof(NicMessages.WordsHeader)), BitConverter.GetBytes(0x5555L));
        var flush = new NicMessages.FlushHeader { Writer = writer, Token = 4 };
        endpoint.Send(NicMessages.Flush, new ReadOnlySpan<byte>(&flush, sizeof(NicMessages.FlushHeader)), new byte[8]);

        var until = Stopwatch.GetTimestamp() + Stopwatch.Frequency; // a second for the answers
        while (Stopwatch.GetTimestamp() < until)
        {
            if (worker.Progress() == 0)
            {
                Thread.Sleep(1);
            }
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"answers={Interlocked.Read(ref s_answers)} bytes={Interlocked.Read(ref s_bytes)} flushed={Interlocked.Read(ref s_flushed)}");
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static sbyte OnAnswer(nint argument, byte* header, nuint headerLength, byte* data, nuint length, Native.AmRecvParam* param)
    {
        Interlocked.Increment(ref s_answers);
        Interlocked.Add(ref s_bytes, (long)length);
        if (argument == NicMessages.Flushed)
        {
            Interlocked.Increment(ref s_flushed);
        }

        return Native.Ok;
    }
}
