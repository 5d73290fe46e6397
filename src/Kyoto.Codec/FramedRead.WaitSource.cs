// FramedRead's wait when it has to read from the stream: a reusable IValueTaskSource instead of an async method.
// A pooled async box (ManualResetValueTaskSourceCore) hands its continuation to the awaiting task's
// SynchronizationContext wrapped in a new tuple on every wait; this source posts itself, and a Kyoto task's
// context posts through a pooled work item, so a wait allocates nothing once warm.
//
// Invariants:
//  1. One wait at a time per reader (_inUse 0 -> 1 in Start, back to 0 when GetResult hands the outcome over);
//     one await per version: Start bumps _version and a stale token throws.
//  2. Completion and the awaiter's registration race through _continuation: completion swaps in s_completed,
//     registration swaps in the continuation; whichever comes second schedules the continuation. The wait reads
//     as completed only once _continuation is set too (as ManualResetValueTaskSourceCore does): an awaiter that
//     saw _completed alone could read the result, free the source and start the next wait before the completing
//     thread's swap, which would then land in the next wait and schedule its continuation a second time.
//  3. The inner reads are awaited from the waiting task itself (Start runs in it, OnRead runs as its
//     continuation), so the runtime's abort and the token's cancellation reach the inner read; this source
//     completes only with the inner read's outcome, and every byte read before a failure stays in the buffer.
//  4. Nothing is touched after the continuation is invoked: it may call GetResult and start the next wait.
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Tasks.Sources;

namespace Kyoto.Codec;

public sealed partial class FramedRead<T>
{
    private WaitSource? _waitSource;

    /// <summary>The wait of <see cref="WaitToReadAsync"/> that has to read (see the file's invariants).</summary>
    private sealed class WaitSource : IValueTaskSource<bool>
    {
        private static readonly Action<object?> s_completed = static _ => { };
        private static readonly SendOrPostCallback s_post = static s => ((WaitSource)s!).RunContinuation();
        private static readonly ContextCallback s_invoke = static s => ((WaitSource)s!).InvokeContinuation();
        private static readonly Action<object?> s_threadPool = static s => ((WaitSource)s!).RunContinuation();

        private readonly FramedRead<T> _owner;
        private readonly Action _onRead;
        private ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter _awaiter;
        private CancellationToken _token;
        private Action<object?>? _continuation;
        private object? _continuationState;
        private SynchronizationContext? _context;
        private ExecutionContext? _executionContext;
        private bool _result;
        private ExceptionDispatchInfo? _error;
        private int _completed;
        private short _version;
        private int _inUse;

        internal WaitSource(FramedRead<T> owner)
        {
            _owner = owner;
            _onRead = OnRead;
        }

        /// <summary>Waits for <paramref name="read"/> (not completed yet), then goes on as WaitToReadAsync does.</summary>
        internal ValueTask<bool> Start(ValueTask<int> read, CancellationToken cancellationToken)
        {
            if (Interlocked.Exchange(ref _inUse, 1) != 0)
            {
                throw new InvalidOperationException("Another wait on this framed reader is in progress: one reading task at a time.");
            }

            _continuation = null;
            _continuationState = null;
            _error = null;
            _completed = 0;
            _version++;
            _token = cancellationToken;
            var pending = new ValueTask<bool>(this, _version);
            Await(read);
            return pending;
        }

        private void Await(ValueTask<int> read)
        {
            _awaiter = read.ConfigureAwait(true).GetAwaiter();
            _awaiter.UnsafeOnCompleted(_onRead);
        }

        private void OnRead()
        {
            ConfiguredValueTaskAwaitable<int>.ConfiguredValueTaskAwaiter awaiter = _awaiter;
            _awaiter = default;
            try
            {
                _owner.Received(awaiter.GetResult());
                if (!_owner.TryWaitSynchronously(_token, out _, out ValueTask<int> next))
                {
                    Await(next);
                    return;
                }

                Complete(_owner._hasPending, null);
            }
            catch (Exception e)
            {
                Complete(false, ExceptionDispatchInfo.Capture(e));
            }
        }

        private void Complete(bool result, ExceptionDispatchInfo? error)
        {
            _result = result;
            _error = error;
            _token = default;
            Volatile.Write(ref _completed, 1);
            Action<object?>? registered = Interlocked.CompareExchange(ref _continuation, s_completed, null);
            if (registered is not null)
            {
                Schedule();
            }
        }

        public ValueTaskSourceStatus GetStatus(short token)
        {
            ValidateToken(token);
            if (Volatile.Read(ref _continuation) is null || Volatile.Read(ref _completed) == 0)
            {
                return ValueTaskSourceStatus.Pending;
            }

            return _error is null ? ValueTaskSourceStatus.Succeeded
                : _error.SourceException is OperationCanceledException ? ValueTaskSourceStatus.Canceled
                : ValueTaskSourceStatus.Faulted;
        }

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        {
            ArgumentNullException.ThrowIfNull(continuation);
            ValidateToken(token);
            if ((flags & ValueTaskSourceOnCompletedFlags.UseSchedulingContext) != 0
                && SynchronizationContext.Current is { } context && context.GetType() != typeof(SynchronizationContext))
            {
                _context = context;
            }

            if ((flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0)
            {
                _executionContext = ExecutionContext.Capture();
            }

            _continuationState = state;
            Action<object?>? previous = Interlocked.CompareExchange(ref _continuation, continuation, null);
            if (previous is null)
            {
                return;
            }

            if (!ReferenceEquals(previous, s_completed))
            {
                throw new InvalidOperationException("This wait is already being awaited; a ValueTask may be awaited only once.");
            }

            // Completed before the registration: schedule now.
            _continuation = continuation;
            Schedule();
        }

        public bool GetResult(short token)
        {
            ValidateToken(token);
            if (Volatile.Read(ref _completed) == 0)
            {
                throw new InvalidOperationException("The wait has not completed; await the ValueTask instead of reading its result.");
            }

            ExceptionDispatchInfo? error = _error;
            bool result = _result;
            _error = null;
            Volatile.Write(ref _inUse, 0);
            error?.Throw();
            return result;
        }

        private void ValidateToken(short token)
        {
            if (token != _version)
            {
                throw new InvalidOperationException("This ValueTask was already awaited: its source has moved on. A ValueTask may be awaited only once.");
            }
        }

        private void Schedule()
        {
            if (_context is { } context)
            {
                context.Post(s_post, this);
            }
            else
            {
                ThreadPool.UnsafeQueueUserWorkItem(s_threadPool, this, preferLocal: true);
            }
        }

        private void RunContinuation()
        {
            ExecutionContext? executionContext = _executionContext;
            _executionContext = null;
            if (executionContext is null)
            {
                InvokeContinuation();
            }
            else
            {
                ExecutionContext.Run(executionContext, s_invoke, this);
            }
        }

        private void InvokeContinuation()
        {
            Action<object?> continuation = _continuation!;
            object? state = _continuationState;
            _continuationState = null;
            _context = null;
            continuation(state);
        }
    }
}
