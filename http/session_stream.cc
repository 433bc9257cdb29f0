// Session's streamed bodies (Response::stream): the producer runs on the offload pool and
// queues chunks in a Stream; the connection's I/O thread writes them as HTTP/1.1 chunks.

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <charconv>

#include "http/server_internal.h"

namespace keymeter::http {

void Session::StartStream(bool keep, bool chunked) {
  auto stream = std::make_shared<Stream>();
  stream->keep = keep;
  stream->chunked = chunked;
  stream_ = stream;
  handling_ = true;  // the producer, not the peer, is at work until it queues something
  // Marks a write as due and posts it, unless one is already on its way (called with mu held).
  auto wake = [self = shared_from_this(), stream](std::unique_lock<std::mutex>& lock) {
    if (stream->writing) return;
    stream->writing = true;
    lock.unlock();
    net::post(self->socket_.get_executor(), [self] { self->PumpStream(); });
  };
  BodyWriter write = [stream, wake](std::string_view chunk) {
    std::unique_lock lock(stream->mu);
    stream->room.wait(lock, [&] {
      return stream->closed || stream->pending.size() < kStreamBufferBytes;
    });
    if (stream->closed) return false;
    stream->pending.append(chunk);
    wake(lock);
    return true;
  };
  auto produce = [body = std::move(response_.stream), write, stream, wake,
                  route = std::string(response_.route)] {
    bool failed = false;
    try {
      body(write);
    } catch (const std::exception& e) {
      spdlog::error("http: stream of route \"{}\" threw: {}", route, e.what());
      failed = true;
    }
    std::unique_lock lock(stream->mu);
    stream->done = true;
    stream->failed = failed;
    wake(lock);
  };
  if (server_.pool) {
    server_.Offload(std::move(produce));
  } else {
    std::thread(std::move(produce)).detach();
  }
}

void Session::PumpStream() {
  Stream& s = *stream_;
  std::string data;
  bool finish = false, failed = false;
  {
    std::lock_guard lock(s.mu);
    data.swap(s.pending);
    finish = s.done;
    failed = s.failed;
    if (data.empty() && !finish) {
      s.writing = false;
      handling_ = true;
      return;
    }
  }
  s.room.notify_all();
  chunk_.clear();
  if (s.chunked && !data.empty()) {
    char size[20];
    const auto end = std::to_chars(size, size + sizeof size, data.size(), 16).ptr;
    chunk_.append(size, end).append("\r\n").append(data).append("\r\n");
  } else {
    chunk_ = std::move(data);
  }
  if (finish && s.chunked && !failed) chunk_.append("0\r\n\r\n");
  handling_ = false;
  ExpiresAfter(server_.options.write_timeout);
  net::async_write(socket_, net::buffer(chunk_),
                   [self = shared_from_this(), finish, failed](beast::error_code ec, size_t) {
                     if (ec) return self->Close();
                     if (!finish) return self->PumpStream();
                     const bool keep = self->stream_->keep && !failed;
                     self->stream_.reset();
                     if (keep) return self->ReadHeader();
                     if (self->unread_ || self->buffer_.size() > 0) return self->Linger();
                     self->Close();
                   });
}

}  // namespace keymeter::http
